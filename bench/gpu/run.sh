#!/usr/bin/env bash
# The GPU benchmark and the GPU correctness checks in one command.
#
#   bench/gpu/run.sh [ARCH]            on a GPU machine with a tttc build
#   bench/gpu/run.sh --prepare ARCH    on a build machine: kernels and check
#                                      data into .gpurun/ (copy it over), then
#   bench/gpu/run.sh --device          on the GPU machine (no MLIR needed:
#                                      python3 with torch and numpy, a C++
#                                      compiler for the launch runtime)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.gpurun
tttc=build/bin/tttc
examples="ttt_linear ttt_mlp titans_linear titans_mlp delta gated_delta linear_attention infini_attention infini_attention_delta"
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3

prepare() {
  local arch=$1
  mkdir -p $out/bench $out/check
  for l in ttt_linear ttt_mlp; do
    $tttc examples/$l.mlir --emit=ptx --arch=$arch --head-dim 64 -o $out/bench/$l.ptx 2>/dev/null
    $tttc examples/$l.mlir --emit=ptx --arch=$arch --head-dim 64 --io-dtype bf16 \
      -o $out/bench/$l.bf16.ptx 2>/dev/null
    # 256 threads per program (fewer, longer programs at small B * H).
    $tttc compile examples/$l.mlir --target=cuda:threads=256 --arch=$arch --emit=ptx \
      --head-dim 64 -o $out/bench/$l.t256.ptx > /dev/null 2>&1
  done
  # Awkward shapes for the on-device correctness check.
  for s in $examples; do for d in 16 64; do
    $tttc examples/$s.mlir --emit=ptx --arch=$arch --head-dim $d -o $out/check/$s.$d.ptx 2>/dev/null
    $tttc run examples/$s.mlir --head-dim $d --seq-len 37 --batch 2 --heads 3 \
      --output-dir $out/check/$s.$d --save-inputs > /dev/null
  done; done
  echo "prepared $out for $arch"
}

device() {
  local args=()
  for p in $out/check/*.ptx; do args+=("$p" "${p%.ptx}"); done
  $py bench/gpu/run_ptx.py "${args[@]}"
  $py bench/gpu/bench_gpu.py $out/bench "$@"
  $py bench/gpu/bench_gpu.py $out/bench --io bf16 "$@"
  $py bench/gpu/bench_gpu.py $out/bench --variant .t256 "$@"
}

case "${1:-}" in
  --prepare) prepare "$2" ;;
  --device) shift; device "$@" ;;
  *)
    arch=${1:-$($py -c 'import torch; m, n = torch.cuda.get_device_capability(); print(f"sm_{m}{n}")')}
    prepare "$arch"
    device ;;
esac
