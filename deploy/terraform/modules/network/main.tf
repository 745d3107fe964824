# VNet with one subnet for the AKS nodes. Pods get addresses from the Azure CNI overlay
# range (not from the VNet), so the node subnet stays small and the VNet can be peered.
resource "azurerm_virtual_network" "main" {
  name                = var.name
  resource_group_name = var.resource_group_name
  location            = var.location
  address_space       = var.address_space
  tags                = var.tags
}

resource "azurerm_subnet" "nodes" {
  name                 = "snet-aks-nodes"
  resource_group_name  = var.resource_group_name
  virtual_network_name = azurerm_virtual_network.main.name
  address_prefixes     = [var.nodes_subnet_prefix]
  # Model storage is reached over the Azure backbone through a service endpoint.
  service_endpoints = ["Microsoft.Storage", "Microsoft.ContainerRegistry"]
}
