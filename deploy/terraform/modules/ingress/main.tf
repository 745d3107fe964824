# Azure Load Balancer -> ingress-nginx (Service type LoadBalancer on a static, zone-redundant
# public IP) -> treeserve ClusterIP Service. cert-manager issues the TLS certificates.
resource "azurerm_public_ip" "ingress" {
  name                = "pip-treeserve-ingress-${var.environment}"
  resource_group_name = var.resource_group_name
  location            = var.location
  allocation_method   = "Static"
  sku                 = "Standard"
  zones               = var.availability_zones
  tags                = var.tags
}

# The cluster identity attaches the public IP to the AKS load balancer.
resource "azurerm_role_assignment" "cluster_pip" {
  scope                = azurerm_public_ip.ingress.id
  role_definition_name = "Network Contributor"
  principal_id         = var.cluster_principal_id
}

resource "helm_release" "ingress_nginx" {
  name             = "ingress-nginx"
  repository       = "https://kubernetes.github.io/ingress-nginx"
  chart            = "ingress-nginx"
  version          = "4.12.0"
  namespace        = "ingress-nginx"
  create_namespace = true
  atomic           = true
  timeout          = 600

  values = [yamlencode({
    controller = {
      replicaCount = var.controller_replica_count
      nodeSelector = { workload = "inference" }
      topologySpreadConstraints = [{
        maxSkew           = 1
        topologyKey       = "topology.kubernetes.io/zone"
        whenUnsatisfiable = "ScheduleAnyway"
        labelSelector     = { matchLabels = { "app.kubernetes.io/name" = "ingress-nginx", "app.kubernetes.io/component" = "controller" } }
      }]
      config = {
        # Client IPs from the Azure LB (externalTrafficPolicy Local keeps them).
        "use-forwarded-headers" = "false"
        "keep-alive-requests"   = "10000"
      }
      metrics             = { enabled = true, serviceMonitor = { enabled = true } }
      podDisruptionBudget = { enabled = true, minAvailable = 1 }
      service = {
        type                  = "LoadBalancer"
        externalTrafficPolicy = "Local"
        loadBalancerIP        = azurerm_public_ip.ingress.ip_address
        annotations = {
          "service.beta.kubernetes.io/azure-load-balancer-resource-group"            = var.resource_group_name
          "service.beta.kubernetes.io/azure-pip-name"                                = azurerm_public_ip.ingress.name
          "service.beta.kubernetes.io/azure-load-balancer-health-probe-request-path" = "/healthz"
        }
      }
    }
  })]

  depends_on = [azurerm_role_assignment.cluster_pip]
}

resource "helm_release" "cert_manager" {
  name             = "cert-manager"
  repository       = "https://charts.jetstack.io"
  chart            = "cert-manager"
  version          = "v1.17.0"
  namespace        = "cert-manager"
  create_namespace = true
  atomic           = true
  timeout          = 600

  values = [yamlencode({
    crds = { enabled = true }
  })]
}

# The Let's Encrypt ClusterIssuer named in the Ingress (cert-manager.io/cluster-issuer),
# shipped as a tiny local chart so that it is applied after cert-manager's CRDs exist.
resource "helm_release" "cluster_issuer" {
  name      = "letsencrypt-issuer"
  chart     = "${path.module}/issuer-chart"
  namespace = "cert-manager"
  atomic    = true

  set {
    name  = "email"
    value = var.letsencrypt_email
  }

  depends_on = [helm_release.cert_manager]
}
