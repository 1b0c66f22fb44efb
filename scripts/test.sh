#!/usr/bin/env bash
# README command 2: build (if needed) and run every test (lit + GoogleTest)
# through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
BUILD_DIR=${BUILD_DIR:-build}
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$(nproc)"
