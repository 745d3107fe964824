variable "environment" {
  description = "Environment name (staging or production)."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group of the ingress public IP."
  type        = string
}

variable "location" {
  description = "Azure region."
  type        = string
}

variable "availability_zones" {
  description = "Zones of the public IP (zone-redundant when all three)."
  type        = list(string)
}

variable "cluster_principal_id" {
  description = "Principal id of the AKS cluster identity (attaches the public IP)."
  type        = string
}

variable "controller_replica_count" {
  description = "ingress-nginx controller replicas."
  type        = number
}

variable "letsencrypt_email" {
  description = "ACME account e-mail for the ClusterIssuer."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
}
