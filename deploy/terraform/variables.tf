variable "environment" {
  description = "Environment name; must equal the Terraform workspace (staging or production)."
  type        = string

  validation {
    condition     = contains(["staging", "production"], var.environment)
    error_message = "environment must be staging or production."
  }
}

variable "location" {
  description = "Azure region for every resource, with availability zones (e.g. westeurope)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]+[a-z0-9]*$", var.location))
    error_message = "location must be an Azure region name such as westeurope (lower case, no spaces)."
  }
}

variable "resource_group_name" {
  description = "Resource group holding the environment's resources."
  type        = string

  validation {
    condition     = can(regex("^rg-[a-z0-9-]{1,60}$", var.resource_group_name))
    error_message = "resource_group_name must look like rg-<name> (lower case letters, digits, dashes)."
  }
}

variable "tags" {
  description = "Extra tags for every resource (application, environment and managed_by are always set)."
  type        = map(string)
  default     = {}

  validation {
    condition     = length(var.tags) <= 40
    error_message = "Azure allows at most 50 tags per resource; keep extra tags to 40."
  }
}

variable "vnet_address_space" {
  description = "Address space of the environment's VNet (CIDR blocks)."
  type        = list(string)

  validation {
    condition     = length(var.vnet_address_space) > 0 && alltrue([for c in var.vnet_address_space : can(cidrhost(c, 0))])
    error_message = "vnet_address_space must be a non-empty list of CIDR blocks."
  }
}

variable "nodes_subnet_prefix" {
  description = "CIDR of the AKS node subnet, inside vnet_address_space. Pods use the Azure CNI overlay range, not this subnet."
  type        = string

  validation {
    condition     = can(cidrhost(var.nodes_subnet_prefix, 0))
    error_message = "nodes_subnet_prefix must be a CIDR block such as 10.20.0.0/22."
  }
}

variable "availability_zones" {
  description = "Availability zones for node pools, the ingress public IP and zone-redundant services."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) > 0 && alltrue([for z in var.availability_zones : contains(["1", "2", "3"], z)])
    error_message = "availability_zones must be a non-empty subset of [\"1\", \"2\", \"3\"]."
  }
}

variable "kubernetes_version" {
  description = "AKS Kubernetes version (major.minor; patches follow the automatic upgrade channel)."
  type        = string

  validation {
    condition     = can(regex("^1\\.[0-9]+$", var.kubernetes_version))
    error_message = "kubernetes_version must be major.minor, e.g. 1.33."
  }
}

variable "aks_sku_tier" {
  description = "AKS control plane tier: Free (no SLA) or Standard (uptime SLA)."
  type        = string

  validation {
    condition     = contains(["Free", "Standard", "Premium"], var.aks_sku_tier)
    error_message = "aks_sku_tier must be Free, Standard or Premium."
  }
}

variable "system_vm_size" {
  description = "VM size of the system node pool (CoreDNS, metrics-server, CSI drivers)."
  type        = string

  validation {
    condition     = can(regex("^Standard_", var.system_vm_size))
    error_message = "system_vm_size must be an Azure VM size such as Standard_D2s_v5."
  }
}

variable "user_vm_size" {
  description = "VM size of the user node pool that runs treeserve, ingress-nginx and monitoring."
  type        = string

  validation {
    condition     = can(regex("^Standard_", var.user_vm_size))
    error_message = "user_vm_size must be an Azure VM size such as Standard_D4s_v5."
  }
}

variable "user_min_count" {
  description = "Minimum node count of the user pool (cluster autoscaler)."
  type        = number

  validation {
    condition     = var.user_min_count >= 1 && var.user_min_count <= 100
    error_message = "user_min_count must be between 1 and 100."
  }
}

variable "user_max_count" {
  description = "Maximum node count of the user pool (cluster autoscaler)."
  type        = number

  validation {
    condition     = var.user_max_count >= 1 && var.user_max_count <= 100
    error_message = "user_max_count must be between 1 and 100."
  }
}

variable "admin_group_object_ids" {
  description = "Azure AD group object ids whose members are cluster admins (Azure RBAC for Kubernetes)."
  type        = list(string)

  validation {
    condition     = alltrue([for g in var.admin_group_object_ids : can(regex("^[0-9a-f-]{36}$", g))])
    error_message = "admin_group_object_ids must be Azure AD object ids (GUIDs)."
  }
}

variable "acr_name" {
  description = "Globally unique name of the container registry (login server <name>.azurecr.io)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9]{5,50}$", var.acr_name))
    error_message = "acr_name must be 5-50 letters and digits."
  }
}

variable "acr_sku" {
  description = "Container registry SKU; Premium adds zone redundancy."
  type        = string

  validation {
    condition     = contains(["Basic", "Standard", "Premium"], var.acr_sku)
    error_message = "acr_sku must be Basic, Standard or Premium."
  }
}

variable "acr_pusher_principal_ids" {
  description = "Object ids of principals allowed to push images (the pipeline's service connection identity)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for p in var.acr_pusher_principal_ids : can(regex("^[0-9a-f-]{36}$", p))])
    error_message = "acr_pusher_principal_ids must be object ids (GUIDs)."
  }
}

variable "models_storage_account_name" {
  description = "Globally unique storage account holding the model repository container (mounted by the blob CSI driver)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]{3,24}$", var.models_storage_account_name))
    error_message = "models_storage_account_name must be 3-24 lower-case letters and digits."
  }
}

variable "models_replication_type" {
  description = "Replication of the model storage account (ZRS keeps models readable when a zone fails)."
  type        = string

  validation {
    condition     = contains(["LRS", "ZRS", "GRS", "GZRS"], var.models_replication_type)
    error_message = "models_replication_type must be LRS, ZRS, GRS or GZRS."
  }
}

variable "models_writer_principal_ids" {
  description = "Object ids allowed to upload model versions (data scientists' group, release pipeline)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for p in var.models_writer_principal_ids : can(regex("^[0-9a-f-]{36}$", p))])
    error_message = "models_writer_principal_ids must be object ids (GUIDs)."
  }
}

variable "ingress_replica_count" {
  description = "Replicas of the ingress-nginx controller (spread over zones)."
  type        = number

  validation {
    condition     = var.ingress_replica_count >= 2
    error_message = "Run at least 2 ingress controller replicas."
  }
}

variable "letsencrypt_email" {
  description = "Contact e-mail for the Let's Encrypt ACME account used by cert-manager."
  type        = string

  validation {
    condition     = can(regex("^[^@ ]+@[^@ ]+\\.[a-z]+$", var.letsencrypt_email))
    error_message = "letsencrypt_email must be an e-mail address."
  }
}

variable "log_retention_days" {
  description = "Log Analytics retention in days."
  type        = number

  validation {
    condition     = var.log_retention_days >= 30 && var.log_retention_days <= 730
    error_message = "log_retention_days must be between 30 and 730."
  }
}

variable "prometheus_storage" {
  description = "Persistent volume size for Prometheus (e.g. 50Gi)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]+Gi$", var.prometheus_storage))
    error_message = "prometheus_storage must be a size in Gi such as 50Gi."
  }
}
