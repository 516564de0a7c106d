// The demo secret the app is allowed to read (SECRETS_ALLOWED) and that DEMO_SECRET_REFERENCE points at.
// Written through ARM (control plane), so the deployer needs no data-plane role for this.
param keyVaultName string
param secretName string

@secure()
param secretValue string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource secret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: secretName
  properties: {
    value: secretValue
    contentType: 'text/plain'
  }
}

output name string = secret.name
