variable "location" {
  description = "Azure region of the state storage account."
  type        = string
  default     = "westeurope"

  validation {
    condition     = can(regex("^[a-z]+[a-z0-9]*$", var.location))
    error_message = "location must be an Azure region name such as westeurope."
  }
}

variable "resource_group_name" {
  description = "Resource group of the state storage account (the backend block names it)."
  type        = string
  default     = "rg-treeserve-tfstate"

  validation {
    condition     = can(regex("^rg-[a-z0-9-]{1,60}$", var.resource_group_name))
    error_message = "resource_group_name must look like rg-<name>."
  }
}

variable "storage_account_name" {
  description = "Globally unique storage account for the state (the backend block names it)."
  type        = string
  default     = "sttreeservetfstate"

  validation {
    condition     = can(regex("^[a-z0-9]{3,24}$", var.storage_account_name))
    error_message = "storage_account_name must be 3-24 lower-case letters and digits."
  }
}

variable "state_writer_principal_ids" {
  description = "Extra object ids (the pipeline's service connection) allowed to read and write state."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for p in var.state_writer_principal_ids : can(regex("^[0-9a-f-]{36}$", p))])
    error_message = "state_writer_principal_ids must be object ids (GUIDs)."
  }
}
