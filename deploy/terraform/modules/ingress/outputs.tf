output "public_ip_address" {
  description = "Public IP address of the ingress controller's load balancer."
  value       = azurerm_public_ip.ingress.ip_address
}
