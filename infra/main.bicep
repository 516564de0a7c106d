targetScope = 'subscription'

// ---------------------------------------------------------------------------
// Key Vault-reading Function App (Flex Consumption) with managed identity and
// least-privilege RBAC. Deployed by `azd up` (see docs/deployment.md).
// ---------------------------------------------------------------------------

@minLength(1)
@maxLength(64)
@description('azd environment name; used for the resource group name and the resource token.')
param environmentName string

// Flex Consumption regions: the list Microsoft's quickstart allows (Azure-Samples/functions-quickstart-typescript-azd
// infra/main.bicep:10-43) without its canary region eastus2euap, so a region without Flex fails before anything is
// created. Newer Flex regions: check `az functionapp list-flexconsumption-locations` and add them here.
@minLength(1)
@description('Region for all resources: one that offers the Flex Consumption plan.')
@allowed([
  'australiaeast'
  'australiasoutheast'
  'brazilsouth'
  'canadacentral'
  'centralindia'
  'centralus'
  'eastasia'
  'eastus'
  'eastus2'
  'francecentral'
  'germanywestcentral'
  'italynorth'
  'japaneast'
  'koreacentral'
  'northcentralus'
  'northeurope'
  'norwayeast'
  'southafricanorth'
  'southcentralus'
  'southeastasia'
  'southindia'
  'spaincentral'
  'swedencentral'
  'uaenorth'
  'uksouth'
  'ukwest'
  'westcentralus'
  'westeurope'
  'westus'
  'westus2'
  'westus3'
])
@metadata({ azd: { type: 'location' } })
param location string

@description('Object id of the deploying user/service principal (azd sets AZURE_PRINCIPAL_ID). Gets "Key Vault Secrets Officer" on the vault only, so it can set/rotate secrets. Leave empty to skip.')
param principalId string = ''

@description('Principal type of principalId. main.parameters.json maps it from AZURE_PRINCIPAL_TYPE, which azd sets since 1.17.1 (Azure/azure-dev#5285) to "User" or "ServicePrincipal"; default User. A wrong type fails the role assignment with UnmatchedPrincipalType, e.g. under a service principal in CI.')
@allowed(['User', 'ServicePrincipal', 'Group'])
param principalType string = 'User'

// Node 22 is the newest LTS that is generally available on Flex Consumption: the Flex stack data Microsoft ships with
// Az.Functions 4.3.0 (FunctionsStackFlexData/<region>/node.json) lists "Node.js 22" as the default node runtime. Node 24
// was announced only as a public preview for Azure Functions (Azure Updates, 2025-11-18), so it is an opt-in here;
// check your region with `az functionapp list-flexconsumption-runtimes --location <region> --runtime node`.
// Node 20 left the allowed list: its community end of life was 2026-04-30. package.json engines uses the same floor.
@description('Node.js major version for the Flex Consumption runtime (functionAppConfig.runtime.version).')
@allowed(['22', '24'])
param nodeVersion string = '22'

@description('Private deployment: VNet integration for the app, private endpoints (with private DNS zones) for Key Vault and blob storage, and public network access off on both. Costs extra (docs/deployment.md).')
param vnetEnabled bool = false

// Purge protection is off by default so the azd dev loop works: `azd down --purge` purges the vault and the next
// `azd up` with the same environment can create it again. With it on (recommended for production), a deleted vault
// keeps its name for keyVaultSoftDeleteRetentionInDays and can only be recovered (keyVaultCreateMode 'recover').
@description('Key Vault purge protection (irreversible once on). Off for dev environments, on for production.')
param keyVaultPurgeProtection bool = false

@description('"recover" recovers the soft-deleted vault of this environment instead of creating one (after azd down without --purge, or with purge protection). Set back to "default" after that provision.')
@allowed(['default', 'recover'])
param keyVaultCreateMode string = 'default'

@description('Soft-delete retention for the vault (7-90 days, immutable after creation). With purge protection the vault name stays reserved this long after deletion.')
@minValue(7)
@maxValue(90)
param keyVaultSoftDeleteRetentionInDays int = 7

@description('SECRETS_ALLOWED: comma-separated secret names the /api/secrets endpoint may return.')
param secretsAllowed string = 'demo-secret'

// The private deployment sets no platform Key Vault reference, so by default its config check reports on none: Flex
// Consumption cannot resolve Key Vault references when the vault's network access is restricted, even with VNet
// integration (Microsoft Learn, "Azure Functions Flex Consumption plan hosting", Considerations). The app's own
// resolveSetting reads a reference through the private endpoint instead (docs/deployment-reference.md, "Private deployment").
// A parameter's default may use other parameters (Microsoft Learn, "Parameters in Bicep", default values).
@description('CONFIG_CHECK_SETTINGS: comma-separated app-setting names /api/config/check reports on (e.g. Key Vault references). Default: DEMO_SECRET_REFERENCE, none in the private deployment.')
param configCheckSettings string = vnetEnabled ? '' : 'DEMO_SECRET_REFERENCE'

@description('SECRET_CACHE_TTL_SECONDS: how long the app caches a secret value.')
@minValue(0)
param secretCacheTtlSeconds int = 300

// Scale (functionAppConfig.scaleAndConcurrency). Allowed values as in Microsoft's Flex Consumption sample
// (Azure-Samples/azure-functions-flex-consumption-samples IaC/bicep/main.bicep:28-33).
@description('Memory of each instance, in MB.')
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@description('Upper bound of instances the app scales out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Always-ready instances (billed while idle), e.g. [{ name: \'http\', instanceCount: 1 }] for the HTTP functions or [{ name: \'function:secretEvents\', instanceCount: 1 }] for one function. Empty = scale to zero.')
param alwaysReady array = []

@description('Dead-letter Key Vault events Event Grid could not deliver to a blob container (not with vnetEnabled: the storage account then takes no public traffic).')
param keyVaultEventsDeadLetter bool = false

@secure()
@description('Value of the demo secret. Defaults to a new GUID, so each provision writes a new secret version.')
param demoSecretValue string = newGuid()

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var functionAppName = 'func-api-${resourceToken}'
var deploymentContainerName = 'app-package'
var deadLetterContainerName = 'key-vault-events-dead-letter'
// The rotation ledger (docs/events.md): one blob per app in this container of the app's storage account.
var rotationLedgerContainerName = 'rotation-ledger'
var demoSecretName = 'demo-secret'
var publicNetworkAccess = vnetEnabled ? 'Disabled' : 'Enabled'
// Dead-lettering writes to the storage account from Event Grid, over the public endpoint: not in the private deployment.
var deadLetterEnabled = keyVaultEventsDeadLetter && !vnetEnabled
// The storage account's containers: the deployment package and the rotation ledger, always; dead letters when on.
var storageContainerNames = deadLetterEnabled ? [deploymentContainerName, rotationLedgerContainerName, deadLetterContainerName] : [deploymentContainerName, rotationLedgerContainerName]

resource rg 'Microsoft.Resources/resourceGroups@2021-04-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module monitoring 'core/monitor/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
  }
}

module storage 'core/storage/storage-account.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'st${resourceToken}'
    containerNames: storageContainerNames
    publicNetworkAccess: publicNetworkAccess
  }
}

// Key Vault public network access follows vnetEnabled: 'Disabled' only comes with the private endpoint the app then
// uses (there is no parameter to switch it off without a private network, which would leave the app unable to reach
// its vault).
module keyVault 'core/security/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'kv-${resourceToken}'
    publicNetworkAccess: publicNetworkAccess
    softDeleteRetentionInDays: keyVaultSoftDeleteRetentionInDays
    enablePurgeProtection: keyVaultPurgeProtection
    createMode: keyVaultCreateMode
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
  }
}

// Event Grid system topic on the vault; scripts/key-vault-events.mjs (postdeploy hook of the api service) subscribes
// the secretEvents function to its three secret event types once the code is deployed.
module keyVaultEvents 'app/key-vault-events.bicep' = {
  name: 'key-vault-events'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'evgt-kv-${resourceToken}'
    keyVaultName: keyVault.outputs.name
    deadLetterEnabled: deadLetterEnabled
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
  }
}

module demoSecret 'app/demo-secret.bicep' = {
  name: 'demo-secret'
  scope: rg
  params: {
    keyVaultName: keyVault.outputs.name
    secretName: demoSecretName
    secretValue: demoSecretValue
  }
}

// The app's one identity, created (and granted, by rbac below) before the Function App exists. Flex uploads the
// deployment package with it, so the Storage Blob Data Owner grant the first `azd deploy` needs does not depend on the
// site: with the site's system-assigned identity that grant could only be made after the site, seconds before azd
// deploys, and azd does not retry the resulting 403 (Azure/azure-dev#8026). Microsoft's quickstart does the same
// (Azure-Samples/functions-quickstart-typescript-azd infra/main.bicep:75-85 and :163-176).
module apiIdentity 'core/security/user-assigned-identity.bicep' = {
  name: 'api-identity'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'id-api-${resourceToken}'
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    appPrincipalId: apiIdentity.outputs.principalId
    keyVaultName: keyVault.outputs.name
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    userPrincipalId: principalId
    userPrincipalType: principalType
    deadLetterPrincipalId: keyVaultEvents.outputs.principalId
    deadLetterContainerName: deadLetterContainerName
    rotationLedgerContainerName: rotationLedgerContainerName
  }
}

// Private deployment only: the VNet, then private endpoints + private DNS zones for Key Vault and blob storage.
module vnet 'app/vnet.bicep' = if (vnetEnabled) {
  name: 'vnet'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'vnet-${resourceToken}'
  }
}

module privateEndpoints 'app/private-endpoints.bicep' = if (vnetEnabled) {
  name: 'private-endpoints'
  scope: rg
  params: {
    location: location
    tags: tags
    vnetId: vnetEnabled ? vnet!.outputs.id : ''
    subnetId: vnetEnabled ? vnet!.outputs.privateEndpointSubnetId : ''
    keyVaultId: keyVault.outputs.id
    storageAccountId: storage.outputs.id
  }
}

// After rbac (the identity's grants) and, in the private deployment, after the private endpoints: the host's first
// start already reaches storage and Key Vault.
module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  dependsOn: [rbac, privateEndpoints]
  params: {
    location: location
    tags: tags
    name: functionAppName
    planName: 'plan-${resourceToken}'
    nodeVersion: nodeVersion
    deploymentContainerUrl: '${storage.outputs.blobEndpoint}${deploymentContainerName}'
    userAssignedIdentityId: apiIdentity.outputs.resourceId
    virtualNetworkSubnetId: vnetEnabled ? vnet!.outputs.appSubnetId : ''
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    alwaysReady: alwaysReady
  }
}

// The demo's platform Key Vault reference: public deployment only. With vnetEnabled the vault takes no public traffic
// and Flex Consumption cannot resolve references to a network-restricted vault (see configCheckSettings above), so the
// setting would stay unresolved and the postdeploy check would wait for it in vain.
var platformReferenceSettings = vnetEnabled ? {} : {
  DEMO_SECRET_REFERENCE: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.uri}secrets/${demoSecretName}/)'
}

// App settings, on the site created above: the Key Vault reference and the identity-based storage connection resolve
// on first start because the grants precede the site and the referenced secret precedes the setting.
module apiSettings 'app/api-settings.bicep' = {
  name: 'api-settings'
  scope: rg
  // The secret DEMO_SECRET_REFERENCE points at exists before the setting does.
  dependsOn: [demoSecret]
  params: {
    functionAppName: api.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
    userAssignedClientId: apiIdentity.outputs.clientId
    appSettings: {
      KEY_VAULT_URL: keyVault.outputs.uri
      SECRETS_ALLOWED: secretsAllowed
      CONFIG_CHECK_SETTINGS: configCheckSettings
      SECRET_CACHE_TTL_SECONDS: string(secretCacheTtlSeconds)
      ROTATION_LEDGER_URL: '${storage.outputs.blobEndpoint}${rotationLedgerContainerName}/${functionAppName}.json'
    }
    referenceSettings: platformReferenceSettings
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output KEY_VAULT_URL string = keyVault.outputs.uri
output KEY_VAULT_EVENTS_TOPIC_NAME string = keyVaultEvents.outputs.name
// Dead-letter destination for the events hook (empty = none): the storage account's resource id and the container.
output KEY_VAULT_EVENTS_DEAD_LETTER_STORAGE_ID string = deadLetterEnabled ? storage.outputs.id : ''
output KEY_VAULT_EVENTS_DEAD_LETTER_CONTAINER string = deadLetterEnabled ? deadLetterContainerName : ''
output PING_URL string = 'https://${api.outputs.defaultHostName}/api/ping'
