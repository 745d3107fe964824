variable "name" {
  description = "Cluster name (also its DNS prefix)."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group of the cluster."
  type        = string
}

variable "location" {
  description = "Azure region."
  type        = string
}

variable "kubernetes_version" {
  description = "Kubernetes version (major.minor)."
  type        = string
}

variable "sku_tier" {
  description = "Control plane tier: Free, Standard or Premium."
  type        = string
}

variable "nodes_subnet_id" {
  description = "Subnet of the node pools."
  type        = string
}

variable "availability_zones" {
  description = "Availability zones of the node pools."
  type        = list(string)
}

variable "system_vm_size" {
  description = "VM size of the system pool."
  type        = string
}

variable "user_vm_size" {
  description = "VM size of the user pool."
  type        = string
}

variable "user_min_count" {
  description = "Minimum nodes in the user pool."
  type        = number
}

variable "user_max_count" {
  description = "Maximum nodes in the user pool."
  type        = number
}

variable "admin_group_object_ids" {
  description = "Azure AD groups with cluster admin rights."
  type        = list(string)
}

variable "tenant_id" {
  description = "Azure AD tenant of the cluster's Azure RBAC."
  type        = string
}

variable "log_analytics_workspace_id" {
  description = "Log Analytics workspace for Container Insights."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
}
