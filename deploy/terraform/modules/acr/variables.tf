variable "name" {
  description = "Registry name (globally unique, letters and digits)."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group of the registry."
  type        = string
}

variable "location" {
  description = "Azure region."
  type        = string
}

variable "sku" {
  description = "Registry SKU: Basic, Standard or Premium."
  type        = string
}

variable "zone_redundancy_enabled" {
  description = "Zone-redundant registry (Premium only)."
  type        = bool
}

variable "kubelet_principal_id" {
  description = "Object id of the AKS kubelet identity, granted AcrPull."
  type        = string
}

variable "pusher_principal_ids" {
  description = "Object ids granted AcrPush (the pipeline)."
  type        = list(string)
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
}
