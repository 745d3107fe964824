terraform {
  required_version = ">= 1.6.0, < 2.0.0"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.55"
    }
    helm = {
      source  = "hashicorp/helm"
      version = "~> 2.17"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }

  # Remote state in Azure Blob Storage, created once by bootstrap/ (docs/deploy.md step 2).
  # One state per workspace: the backend stores workspace W under "<key>env:W".
  # Azure AD auth (use_azuread_auth): no storage account keys anywhere.
  backend "azurerm" {
    resource_group_name  = "rg-treeserve-tfstate"
    storage_account_name = "sttreeservetfstate"
    container_name       = "tfstate"
    key                  = "treeserve.tfstate"
    use_azuread_auth     = true
  }
}
