#!/usr/bin/env bash
# Smoke test of a running treeserve through its public entry point (the ingress):
# readiness, model readiness, and one inference with the first row of the bundled example.
#
#   deploy/tools/smoke-test.sh BASE_URL [MODEL]     e.g. https://treeserve.staging.example.com
#
# Retries readiness for up to SMOKE_WAIT seconds (default 120; DNS and certificates can lag a
# fresh rollout). Exits non-zero, saying which step failed, on any error.
set -euo pipefail
base="${1:?usage: smoke-test.sh BASE_URL [MODEL]}"
model="${2:-binary}"
wait_s="${SMOKE_WAIT:-120}"
here="$(cd "$(dirname "$0")/../.." && pwd)"
csv="$here/examples/$model.csv"
curl_opts=(--silent --show-error --max-time 10)

deadline=$((SECONDS + wait_s))
until curl "${curl_opts[@]}" --fail "$base/v2/health/ready" >/dev/null 2>&1; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "smoke: $base/v2/health/ready not ready after ${wait_s}s" >&2
    exit 1
  fi
  sleep 2
done
echo "smoke: server ready"

code=$(curl "${curl_opts[@]}" -o /dev/null -w '%{http_code}' "$base/v2/models/$model/ready")
if [ "$code" != 200 ]; then
  echo "smoke: model $model not ready (HTTP $code)" >&2
  exit 1
fi
echo "smoke: model $model ready"

[ -f "$csv" ] || { echo "smoke: no example rows at $csv" >&2; exit 1; }
row=$(sed -n 2p "$csv")
ncol=$(awk -F, 'NR == 2 { print NF }' "$csv")
body=$(printf '{"inputs":[{"name":"input-0","shape":[1,%s],"datatype":"FP64","data":[%s]}]}' "$ncol" "$row")
resp=$(curl "${curl_opts[@]}" --fail-with-body -H 'Content-Type: application/json' -d "$body" \
  "$base/v2/models/$model/infer") || { echo "smoke: inference failed: $resp" >&2; exit 1; }
if ! printf '%s' "$resp" | grep -q '"outputs"'; then
  echo "smoke: inference answer has no outputs: $resp" >&2
  exit 1
fi
echo "smoke: inference ok: $(printf '%s' "$resp" | head -c 300)"
