output "vnet_id" {
  description = "Id of the virtual network."
  value       = azurerm_virtual_network.main.id
}

output "nodes_subnet_id" {
  description = "Id of the AKS node subnet."
  value       = azurerm_subnet.nodes.id
}
