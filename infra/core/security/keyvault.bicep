// Key Vault in RBAC mode (no access policies), soft delete on, purge protection per parameter, AuditEvent logs to Log
// Analytics. Public network access off in the private deployment (main.bicep vnetEnabled), where the app reaches it
// through a private endpoint (app/private-endpoints.bicep).
param location string
param tags object = {}
param name string

@allowed(['Enabled', 'Disabled'])
param publicNetworkAccess string = 'Enabled'

@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int = 7

@description('Purge protection (irreversible once on). See main.bicep keyVaultPurgeProtection.')
param enablePurgeProtection bool = false

@description('default, or recover: recover the soft-deleted vault of the same name (main.bicep keyVaultCreateMode).')
@allowed(['default', 'recover'])
param createMode string = 'default'

@description('Log Analytics workspace that receives the vault AuditEvent log.')
param logAnalyticsWorkspaceId string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    createMode: createMode
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    // Purge protection cannot be switched off once on, and Key Vault rejects `false` for a vault that has it: so the
    // property is sent only to turn it on (null = not sent), as the Azure Verified Module for Key Vault does
    // (Azure/bicep-registry-modules avm/res/key-vault/vault/main.bicep: `enablePurgeProtection ? ... : null`).
    enablePurgeProtection: enablePurgeProtection ? true : null
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: publicNetworkAccess
    networkAcls: {
      defaultAction: publicNetworkAccess == 'Enabled' ? 'Allow' : 'Deny'
      bypass: 'AzureServices'
    }
  }
}

// Who read which secret, and who was refused: Key Vault's AuditEvent category, to the template's workspace
// (Microsoft.Insights/diagnosticSettings 2021-05-01-preview, the version the Azure Verified Module for Key Vault uses).
resource auditLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit-to-log-analytics'
  scope: vault
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        category: 'AuditEvent'
        enabled: true
      }
    ]
  }
}

output name string = vault.name
output id string = vault.id
output uri string = vault.properties.vaultUri
