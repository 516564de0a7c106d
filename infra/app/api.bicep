// The Function App: Linux, Flex Consumption, Node.js, with one identity: the user-assigned identity main.bicep creates
// and grants before this site exists (Key Vault, Key Vault references, host storage, deployment storage, telemetry).
// App settings are applied by api-settings.bicep.
param location string
param tags object = {}
param name string
param planName string

@description('Node.js major version; see main.bicep for why 22 is the default.')
@allowed(['22', '24'])
param nodeVersion string = '22'

@description('Blob container URL for the deployment package, e.g. https://<account>.blob.core.windows.net/app-package')
param deploymentContainerUrl string

@description('Resource id of the user-assigned identity the app uses for everything (created and granted before the site).')
param userAssignedIdentityId string

@description('Resource id of the subnet for VNet integration (delegated to Microsoft.App/environments); empty = none.')
param virtualNetworkSubnetId string = ''

@description('Memory of each instance (Flex Consumption instance sizes).')
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@description('Upper bound of instances the app scales out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Always-ready instances: [{ name: \'http\' | \'function:<name>\', instanceCount: n }]. Empty = scale to zero.')
param alwaysReady array = []

module plan '../core/host/flex-consumption-plan.bicep' = {
  name: 'flex-plan'
  params: {
    location: location
    tags: tags
    name: planName
  }
}

// siteConfig has no FTPS-state property: Flex Consumption rejects it (BadRequest, ExtendedCode 51021, "The following
// site configuration property (Site.SiteConfig.FtpsState) for Flex Consumption sites is invalid"), the same check that
// rejects LinuxFxVersion (Azure/terraform-azurerm-avm-res-web-site#283). Microsoft's Flex samples set no FTP state
// (Azure-Samples/azure-functions-flex-consumption-samples IaC/bicep/core/host/function.bicep). FTP and SCM basic auth
// are switched off below with basicPublishingCredentialsPolicies instead. (Written here, not inside the object: the
// Bicep parser checkov uses, pycep, rejects a long run of comment lines inside an object; docs/deployment-reference.md, "IaC scan".)
resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${userAssignedIdentityId}': {} }
  }
  properties: {
    serverFarmId: plan.outputs.id
    httpsOnly: true
    keyVaultReferenceIdentity: userAssignedIdentityId
    // Regional VNet integration for the private deployment (vnetEnabled), as Microsoft's quickstart passes it to the
    // site (Azure-Samples/functions-quickstart-typescript-azd infra/app/api.bicep:102, virtualNetworkSubnetId).
    virtualNetworkSubnetId: empty(virtualNetworkSubnetId) ? null : virtualNetworkSubnetId
    // No FTPS-state property in siteConfig (Flex rejects it; see the note above this resource).
    siteConfig: {
      minTlsVersion: '1.2'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: { type: 'UserAssignedIdentity', userAssignedIdentityResourceId: userAssignedIdentityId }
        }
      }
      // functionAppConfig.scaleAndConcurrency: instanceMemoryMB, maximumInstanceCount, alwaysReady [{ name,
      // instanceCount }] (Microsoft.Web 2024-04-01 FunctionsScaleAndConcurrency / FunctionsAlwaysReadyConfig).
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
        alwaysReady: alwaysReady
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
