#!/usr/bin/env bash
# Installs what tttc needs on Debian 12 (bookworm): MLIR/LLVM 22, a C++
# toolchain, CMake + Ninja, GoogleTest, OpenBLAS (for the benchmark's
# baseline), python3-numpy (for the .npy interop tests), python3-torch
# (CPU; the PyTorch layer's tests and the benchmarks' PyTorch baselines) and
# python3-pytest (the Python package's tests) and python3-matplotlib (the
# training example's loss curve).
set -euo pipefail
pkgs=(build-essential cmake ninja-build ccache
      libmlir-22-dev mlir-22-tools llvm-22-dev llvm-22-tools
      libgtest-dev libopenblas-dev python3 python3-numpy python3-torch python3-pytest
      python3-matplotlib)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
