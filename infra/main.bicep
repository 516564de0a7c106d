targetScope = 'subscription'

// ---------------------------------------------------------------------------
// Key Vault-reading Function App (Flex Consumption) with managed identity and
// least-privilege RBAC. Deployed by `azd up` (see docs/deployment.md).
// ---------------------------------------------------------------------------

@minLength(1)
@maxLength(64)
@description('azd environment name; used for the resource group name and the resource token.')
param environmentName string

@minLength(1)
@description('Region for all resources. Must be a region that offers the Flex Consumption plan.')
@metadata({ azd: { type: 'location' } })
param location string

@description('Object id of the deploying user/service principal (azd sets AZURE_PRINCIPAL_ID). Gets "Key Vault Secrets Officer" on the vault only, so it can set/rotate secrets. Leave empty to skip.')
param principalId string = ''

@description('Principal type of principalId. main.parameters.json maps it from AZURE_PRINCIPAL_TYPE, which azd sets since 1.17.1 (Azure/azure-dev#5285) to "User" or "ServicePrincipal"; default User. A wrong type fails the role assignment with UnmatchedPrincipalType, e.g. under a service principal in CI.')
@allowed(['User', 'ServicePrincipal', 'Group'])
param principalType string = 'User'

@description('Also create a user-assigned identity and use it (instead of the system-assigned one) for Key Vault, storage and App Insights. The system-assigned identity is always enabled.')
param useUserAssignedIdentity bool = false

// Node 22 is the newest LTS that is generally available on Flex Consumption: the Flex stack data Microsoft ships with
// Az.Functions 4.3.0 (FunctionsStackFlexData/<region>/node.json) lists "Node.js 22" as the default node runtime. Node 24
// was announced only as a public preview for Azure Functions (Azure Updates, 2025-11-18), so it is an opt-in here;
// check your region with `az functionapp list-flexconsumption-runtimes --location <region> --runtime node`.
// Node 20 left the allowed list: its community end of life was 2026-04-30. package.json engines uses the same floor.
@description('Node.js major version for the Flex Consumption runtime (functionAppConfig.runtime.version).')
@allowed(['22', '24'])
param nodeVersion string = '22'

@description('Key Vault public network access. "Disabled" requires private networking (not part of this template).')
@allowed(['Enabled', 'Disabled'])
param keyVaultPublicNetworkAccess string = 'Enabled'

@description('Soft-delete retention for the vault (7-90 days, immutable after creation). With purge protection the vault name stays reserved this long after deletion.')
@minValue(7)
@maxValue(90)
param keyVaultSoftDeleteRetentionInDays int = 7

@description('SECRETS_ALLOWED: comma-separated secret names the /api/secrets endpoint may return.')
param secretsAllowed string = 'demo-secret'

@description('CONFIG_CHECK_SETTINGS: comma-separated app-setting names /api/config/check reports on (e.g. Key Vault references).')
param configCheckSettings string = 'DEMO_SECRET_REFERENCE'

@description('SECRET_CACHE_TTL_SECONDS: how long the app caches a secret value.')
@minValue(0)
param secretCacheTtlSeconds int = 300

@secure()
@description('Value of the demo secret. Defaults to a new GUID, so each provision writes a new secret version.')
param demoSecretValue string = newGuid()

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var functionAppName = 'func-api-${resourceToken}'
var deploymentContainerName = 'app-package'
var demoSecretName = 'demo-secret'

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
    containerNames: [deploymentContainerName]
  }
}

module keyVault 'core/security/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'kv-${resourceToken}'
    publicNetworkAccess: keyVaultPublicNetworkAccess
    softDeleteRetentionInDays: keyVaultSoftDeleteRetentionInDays
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

module apiIdentity 'core/security/user-assigned-identity.bicep' = if (useUserAssignedIdentity) {
  name: 'api-identity'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'id-api-${resourceToken}'
  }
}

// Outputs of the conditional module are read only behind the same condition. A bare `apiIdentity.?outputs.x ?? ''`
// compiles (Bicep before 0.36.177, i.e. azd before 1.18) to an unguarded reference() that ARM evaluates even when the
// module was not deployed, failing the default path with DeploymentNotFound (Azure/bicep#3990). ARM's if() evaluates
// only the value for the branch taken (ARM template logical functions, if: an expression that is valid under one
// condition only may sit in that branch), so `cond ? mod!.outputs.x : ''` is safe on every Bicep version azd has
// shipped since Flex support (the `!` operator exists since Bicep 0.14, Azure/bicep#9585).
var userAssignedIdentityId = useUserAssignedIdentity ? apiIdentity!.outputs.resourceId : ''
var userAssignedClientId = useUserAssignedIdentity ? apiIdentity!.outputs.clientId : ''

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    location: location
    tags: tags
    name: functionAppName
    planName: 'plan-${resourceToken}'
    nodeVersion: nodeVersion
    deploymentContainerUrl: '${storage.outputs.blobEndpoint}${deploymentContainerName}'
    userAssignedIdentityId: userAssignedIdentityId
  }
}

// The identity the app uses for Key Vault / storage / App Insights.
var appPrincipalId = useUserAssignedIdentity ? apiIdentity!.outputs.principalId : api.outputs.systemAssignedPrincipalId

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    appPrincipalId: appPrincipalId
    keyVaultName: keyVault.outputs.name
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    userPrincipalId: principalId
    userPrincipalType: principalType
  }
}

// Rotation ledger: a container in the app's storage account, the app identity's data role on it only.
module rotationLedger 'app/rotation-ledger.bicep' = {
  name: 'rotation-ledger'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    appPrincipalId: appPrincipalId
    blobName: '${functionAppName}.json'
  }
}

// App settings are applied after the role assignments so the Key Vault reference
// and identity-based storage connection resolve on first start.
module apiSettings 'app/api-settings.bicep' = {
  name: 'api-settings'
  scope: rg
  dependsOn: [rbac]
  params: {
    functionAppName: api.outputs.name
    storageAccountName: storage.outputs.name
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
    userAssignedClientId: userAssignedClientId
    appSettings: {
      KEY_VAULT_URL: keyVault.outputs.uri
      SECRETS_ALLOWED: secretsAllowed
      CONFIG_CHECK_SETTINGS: configCheckSettings
      SECRET_CACHE_TTL_SECONDS: string(secretCacheTtlSeconds)
      ROTATION_LEDGER_URL: rotationLedger.outputs.blobUrl
      DEMO_SECRET_REFERENCE: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.uri}secrets/${demoSecretName}/)'
    }
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output KEY_VAULT_URL string = keyVault.outputs.uri
output KEY_VAULT_EVENTS_TOPIC_NAME string = keyVaultEvents.outputs.name
output PING_URL string = 'https://${api.outputs.defaultHostName}/api/ping'
