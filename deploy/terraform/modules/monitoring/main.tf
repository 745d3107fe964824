# Monitoring, chosen: kube-prometheus-stack in the cluster (Prometheus Operator, Prometheus,
# Alertmanager, Grafana, kube-state-metrics, node-exporter) via helm_release, plus a Log
# Analytics workspace for Container Insights (logs, node health).
#
# Why not Azure Monitor managed Prometheus + Azure Managed Grafana: the repository's
# ServiceMonitor, PrometheusRule and grafana_dashboard ConfigMap are the prometheus-operator
# and Grafana-sidecar conventions; with kube-prometheus-stack they deploy unchanged with the
# application (kustomize), the alert rules are the same file that promtool unit-tests and
# the local stack loads, and nothing depends on preview CRDs (azmonitoring.coreos.com).
resource "azurerm_log_analytics_workspace" "main" {
  name                = "log-treeserve-${var.environment}"
  resource_group_name = var.resource_group_name
  location            = var.location
  sku                 = "PerGB2018"
  retention_in_days   = var.retention_in_days
  tags                = var.tags
}

# Grafana's admin password is generated, kept in the (Azure AD protected) state and the
# in-cluster Secret; it is never written in code. Day-to-day access: docs/deploy.md.
resource "random_password" "grafana_admin" {
  length  = 32
  special = false
}

resource "helm_release" "kube_prometheus_stack" {
  name             = "kube-prometheus-stack"
  repository       = "https://prometheus-community.github.io/helm-charts"
  chart            = "kube-prometheus-stack"
  version          = "75.0.0"
  namespace        = "monitoring"
  create_namespace = true
  atomic           = true
  timeout          = 900

  values = [yamlencode({
    prometheus = {
      prometheusSpec = {
        # Pick up every ServiceMonitor and PrometheusRule, not only the chart's own.
        serviceMonitorSelectorNilUsesHelmValues = false
        ruleSelectorNilUsesHelmValues           = false
        retention                               = "15d"
        nodeSelector                            = { workload = "inference" }
        storageSpec = {
          volumeClaimTemplate = {
            spec = {
              storageClassName = "managed-csi-premium"
              accessModes      = ["ReadWriteOnce"]
              resources        = { requests = { storage = var.prometheus_storage } }
            }
          }
        }
      }
    }
    grafana = {
      sidecar = {
        dashboards = {
          enabled          = true
          label            = "grafana_dashboard"
          labelValue       = "1"
          searchNamespace  = "ALL"
          folderAnnotation = "grafana_folder"
          provider         = { foldersFromFilesStructure = true }
        }
      }
    }
  })]

  set_sensitive {
    name  = "grafana.adminPassword"
    value = random_password.grafana_admin.result
  }
}
