#!/usr/bin/env bash
# Writes deploy/k8s/overlays/ENV/azure.env from `terraform output` of workspace ENV, so the
# model PersistentVolume names the storage account and kubelet identity Terraform created.
#
#   deploy/tools/azure-env.sh staging|production
#
# Run from a shell logged in to Azure with the Terraform backend reachable (the pipeline's
# AzureCLI step, or a developer after `az login`).
set -euo pipefail
env_name="${1:?usage: azure-env.sh staging|production}"
case "$env_name" in staging|production) ;; *) echo "azure-env: unknown environment $env_name" >&2; exit 2 ;; esac
root="$(cd "$(dirname "$0")/../.." && pwd)"
tf_dir="$root/deploy/terraform"
out="$root/deploy/k8s/overlays/$env_name/azure.env"

terraform -chdir="$tf_dir" init -input=false >/dev/null
terraform -chdir="$tf_dir" workspace select "$env_name" >/dev/null
get() { terraform -chdir="$tf_dir" output -raw "$1"; }
account=$(get models_storage_account)
container=$(get models_container)
{
  echo "MODELS_STORAGE_ACCOUNT=$account"
  echo "MODELS_CONTAINER=$container"
  echo "MODELS_RESOURCE_GROUP=$(get resource_group_name)"
  echo "MODELS_VOLUME_HANDLE=${account}_${container}"
  echo "KUBELET_CLIENT_ID=$(get kubelet_identity_client_id)"
} > "$out"
echo "azure-env: wrote $out"
