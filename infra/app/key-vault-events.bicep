// Key Vault's events, published to an Event Grid system topic on the vault. The subscription that delivers the three
// secret event types to the `secretEvents` function is created after the code is deployed, by the api service's
// postdeploy hook (scripts/key-vault-events.mjs), the way Microsoft's Flex Consumption samples subscribe functions:
// Event Grid validates the endpoint when a subscription is created, and azd provisions before it deploys, so on a
// first `azd up` the function does not exist yet (Azure/bicep#11656, "Destination endpoint not found").
//
// Least privilege: webhook delivery needs no identity. Only with dead-lettering on does the topic get a system-assigned
// identity, granted Storage Blob Data Contributor on the one dead-letter container (app/rbac.bicep); the app's identity
// gets no new role (a rotation re-read uses its existing Key Vault Secrets User on this vault).
param location string
param tags object = {}
param name string
param keyVaultName string

@description('Give the topic a system-assigned identity for dead-lettering undeliverable events to blob storage.')
param deadLetterEnabled bool = false

@description('Log Analytics workspace that receives the topic DeliveryFailures log.')
param logAnalyticsWorkspaceId string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

// A system topic lives in the region of its source resource: the vault is created in `location` (main.bicep).
resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: name
  location: location
  tags: tags
  identity: {
    type: deadLetterEnabled ? 'SystemAssigned' : 'None'
  }
  properties: {
    source: vault.id
    topicType: 'Microsoft.KeyVault.vaults'
  }
}

// Deliveries Event Grid gave up on or could not make (the secretEvents endpoint refused or was unreachable): the
// system topic's DeliveryFailures category, to the template's workspace.
resource deliveryFailures 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'delivery-failures-to-log-analytics'
  scope: topic
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        category: 'DeliveryFailures'
        enabled: true
      }
    ]
  }
}

output name string = topic.name
output id string = topic.id
// Read only when the identity exists (ARM's if() evaluates the branch taken only).
output principalId string = deadLetterEnabled ? topic.identity.principalId : ''
