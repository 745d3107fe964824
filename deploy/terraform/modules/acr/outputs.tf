output "id" {
  description = "Registry id."
  value       = azurerm_container_registry.main.id
}

output "login_server" {
  description = "Registry login server (<name>.azurecr.io)."
  value       = azurerm_container_registry.main.login_server
}
