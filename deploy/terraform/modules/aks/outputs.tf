output "id" {
  description = "Cluster id."
  value       = azurerm_kubernetes_cluster.main.id
}

output "name" {
  description = "Cluster name."
  value       = azurerm_kubernetes_cluster.main.name
}

output "host" {
  description = "API server URL."
  value       = azurerm_kubernetes_cluster.main.kube_config[0].host
  sensitive   = true
  # Helm releases must wait until the user pool can run their pods.
  depends_on = [azurerm_kubernetes_cluster_node_pool.user]
}

output "cluster_ca_certificate" {
  description = "API server CA certificate (base64)."
  value       = azurerm_kubernetes_cluster.main.kube_config[0].cluster_ca_certificate
  sensitive   = true
}

output "kubelet_identity_object_id" {
  description = "Object id of the kubelet managed identity (pulls images, mounts model blobs)."
  value       = azurerm_kubernetes_cluster.main.kubelet_identity[0].object_id
}

output "kubelet_identity_client_id" {
  description = "Client id of the kubelet managed identity."
  value       = azurerm_kubernetes_cluster.main.kubelet_identity[0].client_id
}

output "cluster_identity_principal_id" {
  description = "Principal id of the cluster's system-assigned identity."
  value       = azurerm_kubernetes_cluster.main.identity[0].principal_id
}

output "oidc_issuer_url" {
  description = "OIDC issuer URL for workload identity."
  value       = azurerm_kubernetes_cluster.main.oidc_issuer_url
}

output "node_resource_group" {
  description = "Resource group AKS manages the nodes in."
  value       = azurerm_kubernetes_cluster.main.node_resource_group
}
