# Credentials come from the environment: `az login` locally, the AzureCLI task's service
# connection in the pipeline (ARM_SUBSCRIPTION_ID, ARM_TENANT_ID, OIDC). Nothing secret here.
provider "azurerm" {
  features {}
  storage_use_azuread = true
}

# Helm talks to the new cluster with an Azure AD token from kubelogin (local accounts are
# disabled on the cluster), for ingress-nginx, cert-manager and kube-prometheus-stack.
provider "helm" {
  kubernetes {
    host                   = module.aks.host
    cluster_ca_certificate = base64decode(module.aks.cluster_ca_certificate)

    exec {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "kubelogin"
      # 6dae42f8-... is the fixed application id of the AKS Azure AD server.
      args = ["get-token", "--login", "azurecli", "--server-id", "6dae42f8-4368-4678-94ff-3960e28e3630"]
    }
  }
}
