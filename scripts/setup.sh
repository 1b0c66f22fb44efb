#!/usr/bin/env bash
# README command 1: on a fresh Debian 12 machine, install the packages,
# configure and build, then run tttc on examples/ttt_linear.mlir with
# generated random inputs, checked against the float64 reference.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
BUILD_DIR=${BUILD_DIR:-build}
"$BUILD_DIR/bin/tttc" run examples/ttt_linear.mlir --check --batch 2 --seq-len 100 \
  --heads 4 --head-dim 64 --output-dir "$BUILD_DIR/ttt_linear-out"
