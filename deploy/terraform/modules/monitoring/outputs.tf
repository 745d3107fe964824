output "log_analytics_workspace_id" {
  description = "Id of the Log Analytics workspace (Container Insights)."
  value       = azurerm_log_analytics_workspace.main.id
}
