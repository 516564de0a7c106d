// Every role assignment of the template, each scoped to the single resource it is for. The app's identity is the
// user-assigned identity `id-api-<token>` (main.bicep): it exists before the Function App, so these grants exist before
// the site does. That narrows the first `azd deploy`'s race with them but does not end it: role assignments reach the
// data planes eventually, and azd retries no 403 (Azure/azure-dev#8026); the cure is in docs/troubleshooting.md
// ("First deploy fails with 403 on the package upload").
@description('Principal (object) id of the user-assigned identity the Function App uses.')
param appPrincipalId string
param keyVaultName string
param storageAccountName string
param applicationInsightsName string

@description('Deploying user/principal that may set secrets; empty = none.')
param userPrincipalId string = ''
@allowed(['User', 'ServicePrincipal', 'Group'])
param userPrincipalType string = 'User'

@description('Principal id of the Event Grid system topic identity that writes dead-lettered events; empty = no dead-letter.')
param deadLetterPrincipalId string = ''
@description('Blob container that receives dead-lettered Key Vault events (exists when deadLetterPrincipalId is set).')
param deadLetterContainerName string
@description('Blob container of the rotation ledger (src/ledger/): the app reads and writes its one blob there.')
param rotationLedgerContainerName string

var keyVaultSecretsUserRoleId = '4633458b-17de-408a-b874-0445c86b69e6'
var keyVaultSecretsOfficerRoleId = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
var storageBlobDataOwnerRoleId = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageBlobDataContributorRoleId = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
var monitoringMetricsPublisherRoleId = '3913510d-42f4-4e42-8a64-420c390055eb'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName

  resource blobServices 'blobServices' existing = {
    name: 'default'

    resource deadLetterContainer 'containers' existing = {
      name: deadLetterContainerName
    }

    resource rotationLedgerContainer 'containers' existing = {
      name: rotationLedgerContainerName
    }
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// ---------------------------------------------------------------------------------------------------------------------
// Key Vault
// ---------------------------------------------------------------------------------------------------------------------

// App identity: read secret values in this vault only.
resource appKeyVaultSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, appPrincipalId, keyVaultSecretsUserRoleId)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUserRoleId)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Deploying user: manage (set/rotate) secrets in this vault only.
resource userKeyVaultSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(vault.id, userPrincipalId, keyVaultSecretsOfficerRoleId)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsOfficerRoleId)
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Storage: every storage role assignment lives in this section.
// ---------------------------------------------------------------------------------------------------------------------

// App identity: Functions host storage (AzureWebJobsStorage) + the Flex deployment package container. Flex uploads the
// package with this identity (functionAppConfig.deployment.storage.authentication), so this grant must reach the
// storage data plane before the first deploy: it is created before the site (main.bicep), usually early enough.
resource appStorageBlobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, storageBlobDataOwnerRoleId)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwnerRoleId)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Event Grid system topic identity (only with dead-lettering): write dead-lettered events to its one container.
resource deadLetterBlobDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deadLetterPrincipalId)) {
  name: guid(storage::blobServices::deadLetterContainer.id, deadLetterPrincipalId, storageBlobDataContributorRoleId)
  scope: storage::blobServices::deadLetterContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributorRoleId)
    principalId: deadLetterPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// App identity: the rotation ledger's container only (read and write its blob; nothing else on the account). Azure RBAC
// for blob data can be scoped to one container ("Assign an Azure role for access to blob data", Microsoft Learn). Today
// the Storage Blob Data Owner above also covers it; this grant is what the ledger needs if that one is ever narrowed.
resource appRotationLedgerContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::blobServices::rotationLedgerContainer.id, appPrincipalId, storageBlobDataContributorRoleId)
  scope: storage::blobServices::rotationLedgerContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributorRoleId)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Application Insights
// ---------------------------------------------------------------------------------------------------------------------

// App identity: send telemetry with Entra ID auth (App Insights local auth is disabled).
resource appMetricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, appPrincipalId, monitoringMetricsPublisherRoleId)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisherRoleId)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}
