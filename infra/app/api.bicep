// The Function App: Linux, Flex Consumption, Node.js, system-assigned identity always on,
// optional user-assigned identity. App settings are applied by api-settings.bicep (after RBAC).
param location string
param tags object = {}
param name string
param planName string

@description('Node.js major version; see main.bicep for why 22 is the default.')
@allowed(['22', '24'])
param nodeVersion string = '22'

@description('Blob container URL for the deployment package, e.g. https://<account>.blob.core.windows.net/app-package')
param deploymentContainerUrl string

@description('Resource id of a user-assigned identity to use for Key Vault, storage and deployment. Empty = use the system-assigned identity.')
param userAssignedIdentityId string = ''

param instanceMemoryMB int = 2048
param maximumInstanceCount int = 100

var useUserAssigned = !empty(userAssignedIdentityId)

module plan '../core/host/flex-consumption-plan.bicep' = {
  name: 'flex-plan'
  params: {
    location: location
    tags: tags
    name: planName
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: useUserAssigned ? 'SystemAssigned, UserAssigned' : 'SystemAssigned'
    userAssignedIdentities: useUserAssigned ? { '${userAssignedIdentityId}': {} } : null
  }
  properties: {
    serverFarmId: plan.outputs.id
    httpsOnly: true
    keyVaultReferenceIdentity: useUserAssigned ? userAssignedIdentityId : 'SystemAssigned'
    // No FTPS-state property in siteConfig: Flex Consumption rejects it (BadRequest, ExtendedCode 51021, "The following site
    // configuration property (Site.SiteConfig.FtpsState) for Flex Consumption sites is invalid"), the same check that
    // rejects LinuxFxVersion (Azure/terraform-azurerm-avm-res-web-site#283). Microsoft's Flex samples set no FTP state
    // (Azure-Samples/azure-functions-flex-consumption-samples IaC/bicep/core/host/function.bicep). FTP and SCM basic
    // auth are switched off below with basicPublishingCredentialsPolicies instead.
    siteConfig: {
      minTlsVersion: '1.2'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: useUserAssigned ? { type: 'UserAssignedIdentity', userAssignedIdentityResourceId: userAssignedIdentityId } : { type: 'SystemAssignedIdentity' }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'node'
        version: nodeVersion
      }
    }
  }

  // No FTP / SCM basic-auth publishing credentials; azd and `func publish` deploy with Entra ID.
  resource ftpPublishing 'basicPublishingCredentialsPolicies' = {
    name: 'ftp'
    properties: { allow: false }
  }

  resource scmPublishing 'basicPublishingCredentialsPolicies' = {
    name: 'scm'
    properties: { allow: false }
  }
}

output name string = functionApp.name
output defaultHostName string = functionApp.properties.defaultHostName
output systemAssignedPrincipalId string = functionApp.identity.principalId
