output "storage_account_name" {
  description = "Storage account of the model repository."
  value       = azurerm_storage_account.models.name
}

output "container_name" {
  description = "Blob container of the model repository."
  value       = azurerm_storage_container.models.name
}
