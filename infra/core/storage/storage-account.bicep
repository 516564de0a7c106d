// Host + deployment-package storage. Shared-key (account key / SAS) access is disabled:
// the Function App reaches it only with its managed identity. In the private deployment (main.bicep vnetEnabled) public
// network access is off and the app reaches blob storage through a private endpoint, as Microsoft's quickstart does
// (Azure-Samples/functions-quickstart-typescript-azd infra/main.bicep:136-143).
param location string
param tags object = {}
param name string
param containerNames array = []

@allowed(['Enabled', 'Disabled'])
param publicNetworkAccess string = 'Enabled'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: publicNetworkAccess
    networkAcls: publicNetworkAccess == 'Enabled' ? {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    } : {
      defaultAction: 'Deny'
      bypass: 'None'
    }
  }
}

// Top-level child resources with `parent` (the same resources as nested declarations): pycep, the Bicep parser checkov
// uses, cannot parse a loop on a nested child resource.
resource blobServices 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [for containerName in containerNames: {
  parent: blobServices
  name: containerName
  properties: { publicAccess: 'None' }
}]

output name string = storage.name
output id string = storage.id
output blobEndpoint string = storage.properties.primaryEndpoints.blob
