// Key Vault's events, published to an Event Grid system topic on the vault. The subscription that delivers the three
// secret event types to the `secretEvents` function is created after the code is deployed, by the api service's
// postdeploy hook (scripts/key-vault-events.mjs), the way Microsoft's Flex Consumption samples subscribe functions:
// Event Grid validates the endpoint when a subscription is created, and azd provisions before it deploys, so on a
// first `azd up` the function does not exist yet (Azure/bicep#11656, "Destination endpoint not found").
//
// Least privilege: the topic has no managed identity (webhook delivery needs none) and grants nothing; the app's
// identity gets no new role (a rotation re-read uses its existing Key Vault Secrets User on this vault).
param location string
param tags object = {}
param name string
param keyVaultName string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

// A system topic lives in the region of its source resource: the vault is created in `location` (main.bicep).
resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: name
  location: location
  tags: tags
  properties: {
    source: vault.id
    topicType: 'Microsoft.KeyVault.vaults'
  }
}

output name string = topic.name
output id string = topic.id
