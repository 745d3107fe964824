# Model repository in Blob Storage: container "models" laid out <model>/<version>/model.txt,
# mounted read-only into the pods by the AKS blob CSI driver (deploy/k8s/components/blob-models).
# Shared keys are disabled: the kubelet identity reads with Storage Blob Data Reader and
# the publishers write with Storage Blob Data Contributor, all through Azure AD.
resource "azurerm_storage_account" "models" {
  name                            = var.storage_account_name
  resource_group_name             = var.resource_group_name
  location                        = var.location
  account_tier                    = "Standard"
  account_replication_type        = var.replication_type
  min_tls_version                 = "TLS1_2"
  shared_access_key_enabled       = false
  default_to_oauth_authentication = true
  allow_nested_items_to_be_public = false
  tags                            = var.tags

  # Versioning and soft delete make a bad upload recoverable (docs/deploy.md, rollback).
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

resource "azurerm_storage_container" "models" {
  name                  = "models"
  storage_account_id    = azurerm_storage_account.models.id
  container_access_type = "private"
}

resource "azurerm_role_assignment" "reader" {
  scope                = azurerm_storage_container.models.id
  role_definition_name = "Storage Blob Data Reader"
  principal_id         = var.reader_principal_id
  principal_type       = "ServicePrincipal"
}

# The blob CSI driver reads the account's properties when it mounts.
resource "azurerm_role_assignment" "reader_account" {
  scope                = azurerm_storage_account.models.id
  role_definition_name = "Reader"
  principal_id         = var.reader_principal_id
  principal_type       = "ServicePrincipal"
}

resource "azurerm_role_assignment" "writers" {
  for_each = toset(var.writer_principal_ids)

  scope                = azurerm_storage_container.models.id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = each.value
}
