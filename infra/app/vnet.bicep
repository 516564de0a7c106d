// The private deployment's virtual network (main.bicep vnetEnabled): one subnet for private endpoints, one delegated to
// Microsoft.App/environments for the Flex Consumption app's VNet integration. Address plan and delegation as in
// Microsoft's quickstart (Azure-Samples/functions-quickstart-typescript-azd infra/app/vnet.bicep:21-41).
param location string
param tags object = {}
param name string

var privateEndpointSubnetName = 'private-endpoints'
var appSubnetName = 'app'

resource vnet 'Microsoft.Network/virtualNetworks@2023-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: ['10.0.0.0/16']
    }
    subnets: [
      {
        name: privateEndpointSubnetName
        properties: {
          addressPrefix: '10.0.1.0/24'
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
      {
        name: appSubnetName
        properties: {
          addressPrefix: '10.0.2.0/24'
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
    ]
  }
}

output name string = vnet.name
output id string = vnet.id
output privateEndpointSubnetId string = '${vnet.id}/subnets/${privateEndpointSubnetName}'
output appSubnetId string = '${vnet.id}/subnets/${appSubnetName}'
