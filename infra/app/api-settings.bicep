// App settings for the Function App. Identity-based connections only: no account keys,
// no connection strings with secrets. Replaces the whole appsettings collection.
param functionAppName string

@description('Blob endpoint of the host storage account (its primaryEndpoints.blob), e.g. https://<account>.blob.core.windows.net/')
param storageBlobEndpoint string
param applicationInsightsConnectionString string

@description('Client id of the user-assigned identity the app uses (its only identity).')
param userAssignedClientId string

@description('Settings the app itself reads (KEY_VAULT_URL, SECRETS_ALLOWED, ...).')
param appSettings object

@description('Key Vault references the platform resolves (empty in the private deployment: Flex cannot resolve them there).')
param referenceSettings object = {}

// AzureWebJobsStorage over Entra ID with the user-assigned identity (credential + clientId) and the blob service only,
// as Microsoft's quickstart sets it (Azure-Samples/functions-quickstart-typescript-azd infra/app/api.bicep: blob
// service URI when enableBlob; queue and table only with enableQueue/enableTable, which its main.bicep leaves off for
// an app like this one: no Durable Functions, no queue trigger). Not `__accountName`: with it the host also derives
// queue and table endpoints, its diagnostic event writer then writes to table storage the identity has no role on, and
// logs 403s on every flush (Azure/azure-functions-host#10995, #10163); and it builds public-cloud host names. The blob
// endpoint comes from the account itself (primaryEndpoints.blob), so it is right in every cloud.
var hostStorageSettings = {
  AzureWebJobsStorage__blobServiceUri: storageBlobEndpoint
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: userAssignedClientId
}

// The app's own credential (src/keyVault/credential.ts) uses ManagedIdentityCredential with this client id.
var identitySettings = {
  AZURE_CLIENT_ID: userAssignedClientId
}

// The connection string only identifies the resource; ingestion is authorised with Entra ID.
var monitoringSettings = {
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${userAssignedClientId};Authorization=AAD'
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: functionApp
  name: 'appsettings'
  properties: union(appSettings, referenceSettings, hostStorageSettings, monitoringSettings, identitySettings)
}
