# Container registry. No admin user and no passwords: AKS pulls with its kubelet managed
# identity (AcrPull), the pipeline pushes with its service connection identity (AcrPush).
resource "azurerm_container_registry" "main" {
  name                    = var.name
  resource_group_name     = var.resource_group_name
  location                = var.location
  sku                     = var.sku
  admin_enabled           = false
  anonymous_pull_enabled  = false
  zone_redundancy_enabled = var.zone_redundancy_enabled
  tags                    = var.tags
}

resource "azurerm_role_assignment" "kubelet_pull" {
  scope                            = azurerm_container_registry.main.id
  role_definition_name             = "AcrPull"
  principal_id                     = var.kubelet_principal_id
  principal_type                   = "ServicePrincipal"
  skip_service_principal_aad_check = true
}

resource "azurerm_role_assignment" "push" {
  for_each = toset(var.pusher_principal_ids)

  scope                = azurerm_container_registry.main.id
  role_definition_name = "AcrPush"
  principal_id         = each.value
}
