# One-time bootstrap of the Terraform remote state (docs/deploy.md step 2). Local state:
# run once per subscription by an owner, keep the resulting terraform.tfstate safe (or
# import the three resources later). The main configuration's backend "azurerm" block
# names what this creates.
#
#   cd deploy/terraform/bootstrap && terraform init && terraform apply
terraform {
  required_version = ">= 1.6.0, < 2.0.0"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.55"
    }
  }
}

provider "azurerm" {
  features {}
  storage_use_azuread = true
}

data "azurerm_client_config" "current" {}

resource "azurerm_resource_group" "state" {
  name     = var.resource_group_name
  location = var.location
  tags     = { application = "treeserve", purpose = "terraform-state" }
}

# Azure AD only (no shared keys), TLS 1.2, versioned blobs with soft delete so that a
# damaged state can be restored, geo-redundant.
resource "azurerm_storage_account" "state" {
  name                            = var.storage_account_name
  resource_group_name             = azurerm_resource_group.state.name
  location                        = azurerm_resource_group.state.location
  account_tier                    = "Standard"
  account_replication_type        = "GZRS"
  min_tls_version                 = "TLS1_2"
  shared_access_key_enabled       = false
  default_to_oauth_authentication = true
  allow_nested_items_to_be_public = false
  tags                            = azurerm_resource_group.state.tags

  blob_properties {
    versioning_enabled = true

    delete_retention_policy {
      days = 30
    }

    container_delete_retention_policy {
      days = 30
    }
  }
}

resource "azurerm_storage_container" "state" {
  name                  = "tfstate"
  storage_account_id    = azurerm_storage_account.state.id
  container_access_type = "private"
}

# Whoever runs Terraform (a person, the pipeline's service connection) needs data access.
resource "azurerm_role_assignment" "state_writers" {
  for_each = toset(concat([data.azurerm_client_config.current.object_id], var.state_writer_principal_ids))

  scope                = azurerm_storage_account.state.id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = each.value
}

resource "azurerm_management_lock" "state" {
  name       = "keep-terraform-state"
  scope      = azurerm_storage_account.state.id
  lock_level = "CanNotDelete"
  notes      = "Holds the Terraform state of every treeserve environment."
}
