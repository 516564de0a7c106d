// Private endpoints of the private deployment (main.bicep vnetEnabled): Key Vault (group `vault`) and blob storage
// (group `blob`: host storage and the deployment package), each with its private DNS zone linked to the VNet and a
// zone group that registers the endpoint's address, so the app resolves the usual host names to private addresses.
// Same shape as Microsoft's quickstart (Azure-Samples/functions-quickstart-typescript-azd
// infra/app/storage-PrivateEndpoint.bicep:20-55, 124-140) without the AVM wrappers; resource shapes as the Azure Verified
// Modules write them (Azure/bicep-registry-modules avm/res/network/private-endpoint/main.bicep and
// private-dns-zone-group/main.bicep). Only blob is needed: the app's triggers are HTTP and Event Grid (webhook), so the
// host uses no queue or table storage.
param location string
param tags object = {}
param vnetId string
param subnetId string
param keyVaultId string
param storageAccountId string

// Public-cloud zone names: Key Vault's private link zone is privatelink.vaultcore.azure.net (not derived from the vault
// DNS suffix); storage's follows the cloud's storage suffix, as the quickstart writes it.
var endpoints = [
  {
    name: 'pe-${last(split(keyVaultId, '/'))}'
    resourceId: keyVaultId
    groupId: 'vault'
    zone: 'privatelink.vaultcore.azure.net'
  }
  {
    name: 'pe-${last(split(storageAccountId, '/'))}-blob'
    resourceId: storageAccountId
    groupId: 'blob'
    zone: 'privatelink.blob.${environment().suffixes.storage}'
  }
]

resource zones 'Microsoft.Network/privateDnsZones@2020-06-01' = [for endpoint in endpoints: {
  name: endpoint.zone
  location: 'global'
  tags: tags
}]

resource zoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = [for (endpoint, i) in endpoints: {
  parent: zones[i]
  name: 'link-${last(split(vnetId, '/'))}'
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnetId
    }
  }
}]

resource privateEndpoints 'Microsoft.Network/privateEndpoints@2023-11-01' = [for endpoint in endpoints: {
  name: endpoint.name
  location: location
  tags: tags
  properties: {
    subnet: {
      id: subnetId
    }
    privateLinkServiceConnections: [
      {
        name: endpoint.name
        properties: {
          privateLinkServiceId: endpoint.resourceId
          groupIds: [endpoint.groupId]
        }
      }
    ]
  }
}]

resource zoneGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2023-11-01' = [for (endpoint, i) in endpoints: {
  parent: privateEndpoints[i]
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: replace(endpoint.zone, '.', '-')
        properties: {
          privateDnsZoneId: zones[i].id
        }
      }
    ]
  }
  dependsOn: [zoneLinks]
}]
