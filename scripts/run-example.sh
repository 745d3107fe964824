#!/usr/bin/env bash
# The main job on the bundled example: predicts the example rows with the example model.
set -euo pipefail
cd "$(dirname "$0")/.."
exec build/treeserve predict --model examples/models/binary/1/model.txt --input examples/binary.csv
