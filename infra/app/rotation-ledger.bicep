// The rotation ledger (src/ledger/): one container in the app's storage account, one blob per app in it, and the
// app identity's data role on that container only (Storage Blob Data Contributor: read and write blobs, nothing on
// the account, no keys). Azure RBAC for blob data can be scoped to a single container ("Assign an Azure role for
// access to blob data", Microsoft Learn): the container resource is the assignment's scope. Role id: the built-in
// Storage Blob Data Contributor. Today the host's own Storage Blob Data Owner on the account (app/rbac.bicep) also
// covers this container; this assignment is what the ledger needs when that one is narrowed.
param storageAccountName string
@description('Principal (object) id of the identity the Function App uses.')
param appPrincipalId string
@description('Blob name of the ledger of this app (one blob per app).')
param blobName string
param containerName string = 'rotation-ledger'

var storageBlobDataContributorRoleId = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName

  resource blobService 'blobServices' existing = {
    name: 'default'
  }
}

resource container 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: storage::blobService
  name: containerName
  properties: { publicAccess: 'None' }
}

resource appLedgerContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(container.id, appPrincipalId, storageBlobDataContributorRoleId)
  scope: container
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributorRoleId)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output blobUrl string = '${storage.properties.primaryEndpoints.blob}${containerName}/${blobName}'
