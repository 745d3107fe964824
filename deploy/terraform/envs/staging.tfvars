# terraform workspace select -or-create staging
# terraform apply -var-file=envs/staging.tfvars
environment         = "staging"
location            = "westeurope"
resource_group_name = "rg-treeserve-staging"

vnet_address_space  = ["10.20.0.0/16"]
nodes_subnet_prefix = "10.20.0.0/22"
availability_zones  = ["1", "2", "3"]

kubernetes_version = "1.33"
aks_sku_tier       = "Free"
system_vm_size     = "Standard_D2s_v5"
user_vm_size       = "Standard_D4s_v5"
user_min_count     = 2
user_max_count     = 4

# Replace with your Azure AD group of cluster admins.
admin_group_object_ids = ["00000000-0000-0000-0000-000000000000"]

acr_name = "acrtreeservestaging"
acr_sku  = "Standard"

models_storage_account_name = "sttreeservemodelsstg"
models_replication_type     = "LRS"

ingress_replica_count = 2
letsencrypt_email     = "platform@example.com"
log_retention_days    = 30
prometheus_storage    = "20Gi"
