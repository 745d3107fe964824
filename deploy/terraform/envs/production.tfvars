# terraform workspace select -or-create production
# terraform apply -var-file=envs/production.tfvars
environment         = "production"
location            = "westeurope"
resource_group_name = "rg-treeserve-production"

vnet_address_space  = ["10.30.0.0/16"]
nodes_subnet_prefix = "10.30.0.0/22"
availability_zones  = ["1", "2", "3"]

kubernetes_version = "1.33"
aks_sku_tier       = "Standard"
system_vm_size     = "Standard_D4s_v5"
user_vm_size       = "Standard_D8s_v5"
user_min_count     = 3
user_max_count     = 12

# Replace with your Azure AD group of cluster admins.
admin_group_object_ids = ["00000000-0000-0000-0000-000000000000"]

acr_name = "acrtreeserveprod"
acr_sku  = "Premium"

models_storage_account_name = "sttreeservemodelsprd"
models_replication_type     = "ZRS"

ingress_replica_count = 3
letsencrypt_email     = "platform@example.com"
log_retention_days    = 90
prometheus_storage    = "100Gi"
