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
  # The launch runtime is rebuilt from this checkout on the device.
  rm -f $out/libtttc_cuda.so
  for l in ttt_linear ttt_mlp; do
    $tttc examples/$l.mlir --emit=ptx --arch=$arch --head-dim 64 -o $out/bench/$l.ptx 2>/dev/null
    $tttc examples/$l.mlir --emit=ptx --arch=$arch --head-dim 64 --io-dtype bf16 \
      -o $out/bench/$l.bf16.ptx 2>/dev/null
    # 256 threads per program (fewer, longer programs at small B * H).
    $tttc compile examples/$l.mlir --target=cuda:threads=256 --arch=$arch --emit=ptx \
      --head-dim 64 -o $out/bench/$l.t256.ptx > /dev/null 2>&1
    # The chunk step in program order, and its ASAP order (fewer barriers,
    # more shared memory); the default is ALAP.
    for o in none asap; do
      $tttc compile examples/$l.mlir --target=cuda:schedule=$o --arch=$arch --emit=ptx \
        --head-dim 64 -o $out/bench/$l.$o.ptx > /dev/null 2>&1
    done
  done
  # Column blocks (1, 2, 4 programs per (b, h)) of layers that allow them.
  for l in linear_attention delta; do for n in 1 2 4; do
    $tttc compile examples/$l.mlir --target=cuda:column-blocks=$n --arch=$arch --emit=ptx \
      --head-dim 64 -o $out/bench/$l.cb$n.ptx > /dev/null
  done; done
  # Awkward shapes for the on-device correctness check: every example's
  # PTX, its cubin (when ptxas is here) and, where the layer allows,
  # 4 column blocks, each against the CPU's outputs. check/list: KERNEL DIR.
  : > $out/check/list
  for s in $examples; do for d in 16 64; do
    local dir=$out/check/$s.$d
    $tttc examples/$s.mlir --emit=ptx --arch=$arch --head-dim $d -o $dir.ptx 2>/dev/null
    $tttc run examples/$s.mlir --head-dim $d --seq-len 37 --batch 2 --heads 3 \
      --output-dir $dir --save-inputs > /dev/null
    echo "$dir.ptx $dir" >> $out/check/list
    if [ $d = 64 ] && $tttc compile examples/$s.mlir --target=cuda --arch=$arch --emit=cubin \
        --head-dim $d -o $dir.cubin > /dev/null 2>&1; then
      echo "$dir.cubin $dir" >> $out/check/list
    fi
    if $tttc compile examples/$s.mlir --target=cuda:column-blocks=4 --arch=$arch --emit=ptx \
        --head-dim $d -o $dir.cb4.ptx > /dev/null 2>&1; then
      echo "$dir.cb4.ptx $dir" >> $out/check/list
    fi
  done; done
  echo "prepared $out for $arch"
}

device() {
  local args=()
  while read -r kernel dir; do args+=("$kernel" "$dir"); done < $out/check/list
  $py bench/gpu/run_ptx.py "${args[@]}"
  $py bench/gpu/bench_gpu.py $out/bench "$@"
  $py bench/gpu/bench_gpu.py $out/bench --io bf16 "$@"
  $py bench/gpu/bench_gpu.py $out/bench --variant .t256 "$@"
  $py bench/gpu/bench_gpu.py $out/bench --variant .none "$@"
  $py bench/gpu/bench_gpu.py $out/bench --variant .asap "$@"
  $py bench/gpu/bench_columns.py $out/bench
}

case "${1:-}" in
  --prepare) prepare "$2" ;;
  --device) shift; device "$@" ;;
  *)
    arch=${1:-$($py -c 'import torch; m, n = torch.cuda.get_device_capability(); print(f"sm_{m}{n}")')}
    prepare "$arch"
    device ;;
esac
