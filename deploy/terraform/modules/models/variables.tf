variable "storage_account_name" {
  description = "Storage account name (globally unique, 3-24 lower-case letters and digits)."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group of the storage account."
  type        = string
}

variable "location" {
  description = "Azure region."
  type        = string
}

variable "replication_type" {
  description = "Replication: LRS, ZRS, GRS or GZRS."
  type        = string
}

variable "reader_principal_id" {
  description = "Object id of the AKS kubelet identity, granted read access to the models."
  type        = string
}

variable "writer_principal_ids" {
  description = "Object ids allowed to upload models."
  type        = list(string)
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
}
