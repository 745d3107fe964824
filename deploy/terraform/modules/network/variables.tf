variable "name" {
  description = "Name of the virtual network."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group of the virtual network."
  type        = string
}

variable "location" {
  description = "Azure region."
  type        = string
}

variable "address_space" {
  description = "Address space (CIDR blocks) of the virtual network."
  type        = list(string)
}

variable "nodes_subnet_prefix" {
  description = "CIDR of the AKS node subnet."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
}
