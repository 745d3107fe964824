output "resource_group_name" {
  description = "Resource group of the environment."
  value       = azurerm_resource_group.main.name
}

output "cluster_name" {
  description = "AKS cluster name."
  value       = module.aks.name
}

output "get_credentials_command" {
  description = "Command that writes a kubeconfig for the cluster (Azure AD login through kubelogin)."
  value       = "az aks get-credentials --resource-group ${azurerm_resource_group.main.name} --name ${module.aks.name} && kubelogin convert-kubeconfig -l azurecli"
}

output "acr_login_server" {
  description = "Container registry login server; images are <login server>/treeserve:<tag>."
  value       = module.acr.login_server
}

output "ingress_ip" {
  description = "Public IP of the ingress-nginx LoadBalancer Service; point the DNS records of the hosts here."
  value       = module.ingress.public_ip_address
}

output "kubelet_identity_client_id" {
  description = "Client id of the kubelet managed identity (KUBELET_CLIENT_ID in deploy/k8s/overlays/<env>/azure.env)."
  value       = module.aks.kubelet_identity_client_id
}

output "models_storage_account" {
  description = "Storage account of the model repository (MODELS_STORAGE_ACCOUNT in azure.env)."
  value       = module.models.storage_account_name
}

output "models_container" {
  description = "Blob container of the model repository (MODELS_CONTAINER in azure.env)."
  value       = module.models.container_name
}

output "oidc_issuer_url" {
  description = "OIDC issuer of the cluster, for workload identity federated credentials."
  value       = module.aks.oidc_issuer_url
}
