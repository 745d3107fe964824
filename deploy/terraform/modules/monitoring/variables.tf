variable "environment" {
  description = "Environment name (staging or production)."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group of the Log Analytics workspace."
  type        = string
}

variable "location" {
  description = "Azure region."
  type        = string
}

variable "retention_in_days" {
  description = "Log Analytics retention in days."
  type        = number
}

variable "prometheus_storage" {
  description = "Prometheus persistent volume size (e.g. 50Gi)."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
}
