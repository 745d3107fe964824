#!/usr/bin/env bash
# The main job on the bundled example: starts the prediction server on the
# example model repository (examples/models: `binary` and `pandas_categorical`)
# on port 8080, after printing curl commands that work against it as printed.
# Stop it with Ctrl-C (graceful: drains, then exits 0).
set -euo pipefail
cd "$(dirname "$0")/.."
port="${TREESERVE_PORT:-8080}"
cat <<EOT
treeserve: serving examples/models on http://localhost:$port  (Ctrl-C stops)

Try, from another terminal:

  # Open Inference Protocol v2: one row of the 28-feature 'binary' model
  curl -s -X POST localhost:$port/v2/models/binary/infer -H 'Content-Type: application/json' -d '{"inputs":[{"name":"x","shape":[1,28],"datatype":"FP64","data":[0.644,0.247,-0.447,0.862,0.374,0.854,-1.126,-0.79,2.173,1.015,-0.201,1.4,0.0,1.575,1.807,1.607,0.0,1.585,-0.19,-0.744,3.102,0.958,1.061,0.98,0.875,0.581,0.905,0.796]}],"outputs":[{"name":"predict"},{"name":"raw"}]}'

  # records API: rows by feature name, strings for pandas categorical columns, null = missing
  curl -s -X POST localhost:$port/v1/models/pandas_categorical:predict -H 'Content-Type: application/json' -d '{"instances":[{"lepton pT":0.644,"lepton eta":0.247,"region":null,"missing energy":0.862,"jet1 btag":"tight","jet2 btag":"none","m_jj":0.958,"m_jjj":1.061,"m_bb":null,"m_wwbb":0.796}]}'

  # explanations: SHAP contribution of each feature (and the bias) next to the prediction
  curl -s -X POST localhost:$port/v1/models/pandas_categorical:explain -H 'Content-Type: application/json' -d '{"instances":[{"lepton pT":0.644,"lepton eta":0.247,"region":null,"missing energy":0.862,"jet1 btag":"tight","jet2 btag":"none","m_jj":0.958,"m_jjj":1.061,"m_bb":null,"m_wwbb":0.796}]}'

  # health, model metadata, metrics, API description
  curl -s localhost:$port/v2/health/ready
  curl -s localhost:$port/v2/models/binary
  curl -s localhost:$port/metrics
  curl -s localhost:$port/openapi.json

EOT
exec build/treeserve serve --model-repository examples/models --port "$port"
