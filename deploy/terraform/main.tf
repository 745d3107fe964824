# treeserve on AKS: one Terraform workspace per environment (staging, production),
# each with its own state, resource group, VNet, AKS cluster, ACR and model storage.
#
#   terraform workspace select -or-create staging
#   terraform apply -var-file=envs/staging.tfvars

locals {
  tags = merge(var.tags, {
    application = "treeserve"
    environment = var.environment
    managed_by  = "terraform"
  })
}

data "azurerm_client_config" "current" {}

resource "azurerm_resource_group" "main" {
  name     = var.resource_group_name
  location = var.location
  tags     = local.tags

  lifecycle {
    precondition {
      condition     = terraform.workspace == var.environment
      error_message = "Workspace and tfvars disagree: select the workspace named like var.environment (terraform workspace select ${var.environment})."
    }
  }
}

module "network" {
  source = "./modules/network"

  name                = "vnet-treeserve-${var.environment}"
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  address_space       = var.vnet_address_space
  nodes_subnet_prefix = var.nodes_subnet_prefix
  tags                = local.tags
}

# The Helm releases in monitoring and ingress wait for the cluster and its user pool through
# the helm provider, which is configured from module.aks outputs.
module "monitoring" {
  source = "./modules/monitoring"

  environment         = var.environment
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  retention_in_days   = var.log_retention_days
  prometheus_storage  = var.prometheus_storage
  tags                = local.tags
}

module "aks" {
  source = "./modules/aks"

  name                       = "aks-treeserve-${var.environment}"
  resource_group_name        = azurerm_resource_group.main.name
  location                   = azurerm_resource_group.main.location
  kubernetes_version         = var.kubernetes_version
  sku_tier                   = var.aks_sku_tier
  nodes_subnet_id            = module.network.nodes_subnet_id
  availability_zones         = var.availability_zones
  system_vm_size             = var.system_vm_size
  user_vm_size               = var.user_vm_size
  user_min_count             = var.user_min_count
  user_max_count             = var.user_max_count
  admin_group_object_ids     = var.admin_group_object_ids
  tenant_id                  = data.azurerm_client_config.current.tenant_id
  log_analytics_workspace_id = module.monitoring.log_analytics_workspace_id
  tags                       = local.tags
}

module "acr" {
  source = "./modules/acr"

  name                    = var.acr_name
  resource_group_name     = azurerm_resource_group.main.name
  location                = azurerm_resource_group.main.location
  sku                     = var.acr_sku
  kubelet_principal_id    = module.aks.kubelet_identity_object_id
  pusher_principal_ids    = var.acr_pusher_principal_ids
  zone_redundancy_enabled = var.acr_sku == "Premium"
  tags                    = local.tags
}

module "models" {
  source = "./modules/models"

  storage_account_name = var.models_storage_account_name
  resource_group_name  = azurerm_resource_group.main.name
  location             = azurerm_resource_group.main.location
  replication_type     = var.models_replication_type
  reader_principal_id  = module.aks.kubelet_identity_object_id
  writer_principal_ids = var.models_writer_principal_ids
  tags                 = local.tags
}

module "ingress" {
  source = "./modules/ingress"

  environment              = var.environment
  resource_group_name      = azurerm_resource_group.main.name
  location                 = azurerm_resource_group.main.location
  availability_zones       = var.availability_zones
  cluster_principal_id     = module.aks.cluster_identity_principal_id
  controller_replica_count = var.ingress_replica_count
  letsencrypt_email        = var.letsencrypt_email
  tags                     = local.tags
}
