// App settings for the Function App. Identity-based connections only: no account keys,
// no connection strings with secrets. Replaces the whole appsettings collection.
param functionAppName string
param storageAccountName string
param applicationInsightsConnectionString string

@description('Client id of the user-assigned identity the app uses; empty = system-assigned.')
param userAssignedClientId string = ''

@description('Settings the app itself reads (KEY_VAULT_URL, SECRETS_ALLOWED, ...), plus Key Vault references.')
param appSettings object

var useUserAssigned = !empty(userAssignedClientId)

// AzureWebJobsStorage over Entra ID; with no credential/clientId the host uses the system-assigned identity.
var hostStorageSettings = {
  AzureWebJobsStorage__accountName: storageAccountName
}

var userAssignedSettings = useUserAssigned ? {
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: userAssignedClientId
  AZURE_CLIENT_ID: userAssignedClientId
} : {}

// The connection string only identifies the resource; ingestion is authorised with Entra ID.
var monitoringSettings = {
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: useUserAssigned ? 'ClientId=${userAssignedClientId};Authorization=AAD' : 'Authorization=AAD'
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: functionApp
  name: 'appsettings'
  properties: union(appSettings, hostStorageSettings, monitoringSettings, userAssignedSettings)
}
