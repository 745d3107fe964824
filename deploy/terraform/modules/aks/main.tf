# AKS: a system pool for cluster add-ons (tainted CriticalAddonsOnly) and an autoscaling
# user pool for treeserve (label workload=inference), both across availability zones;
# Azure CNI overlay with Cilium network policy; OIDC issuer + workload identity; Azure AD
# with Azure RBAC and local accounts disabled; managed identities only (no passwords);
# blob CSI driver for the model repository; Container Insights to Log Analytics.
resource "azurerm_kubernetes_cluster" "main" {
  name                      = var.name
  resource_group_name       = var.resource_group_name
  location                  = var.location
  dns_prefix                = var.name
  kubernetes_version        = var.kubernetes_version
  sku_tier                  = var.sku_tier
  automatic_upgrade_channel = "patch"
  node_os_upgrade_channel   = "NodeImage"
  oidc_issuer_enabled       = true
  workload_identity_enabled = true
  local_account_disabled    = true
  azure_policy_enabled      = true
  tags                      = var.tags

  default_node_pool {
    name                         = "system"
    vm_size                      = var.system_vm_size
    vnet_subnet_id               = var.nodes_subnet_id
    zones                        = var.availability_zones
    auto_scaling_enabled         = true
    min_count                    = 2
    max_count                    = 4
    only_critical_addons_enabled = true
    os_sku                       = "AzureLinux"
    temporary_name_for_rotation  = "systemtmp"

    upgrade_settings {
      max_surge = "33%"
    }
  }

  identity {
    type = "SystemAssigned"
  }

  network_profile {
    network_plugin      = "azure"
    network_plugin_mode = "overlay"
    network_data_plane  = "cilium"
    network_policy      = "cilium"
    load_balancer_sku   = "standard"
    pod_cidr            = "192.168.0.0/16"
    service_cidr        = "172.16.0.0/16"
    dns_service_ip      = "172.16.0.10"
  }

  azure_active_directory_role_based_access_control {
    tenant_id              = var.tenant_id
    azure_rbac_enabled     = true
    admin_group_object_ids = var.admin_group_object_ids
  }

  storage_profile {
    blob_driver_enabled = true
    disk_driver_enabled = true
  }

  oms_agent {
    log_analytics_workspace_id      = var.log_analytics_workspace_id
    msi_auth_for_monitoring_enabled = true
  }

  maintenance_window_auto_upgrade {
    frequency   = "Weekly"
    interval    = 1
    day_of_week = "Sunday"
    start_time  = "02:00"
    duration    = 4
    utc_offset  = "+00:00"
  }
}

resource "azurerm_kubernetes_cluster_node_pool" "user" {
  name                  = "user"
  kubernetes_cluster_id = azurerm_kubernetes_cluster.main.id
  mode                  = "User"
  vm_size               = var.user_vm_size
  vnet_subnet_id        = var.nodes_subnet_id
  zones                 = var.availability_zones
  auto_scaling_enabled  = true
  min_count             = var.user_min_count
  max_count             = var.user_max_count
  os_sku                = "AzureLinux"
  orchestrator_version  = var.kubernetes_version
  node_labels = {
    workload = "inference"
  }
  tags = var.tags

  upgrade_settings {
    max_surge = "33%"
  }

  lifecycle {
    precondition {
      condition     = var.user_min_count <= var.user_max_count
      error_message = "user_min_count must not exceed user_max_count."
    }
  }
}

# The cluster identity joins load balancers to the node subnet (custom VNet).
# Its rights on the ingress public IP are granted in modules/ingress.
resource "azurerm_role_assignment" "cluster_network" {
  scope                = var.nodes_subnet_id
  role_definition_name = "Network Contributor"
  principal_id         = azurerm_kubernetes_cluster.main.identity[0].principal_id
}
