#!/usr/bin/env bash
# The GPU benchmark and the GPU correctness checks in one command.
#
#   bench/gpu/run.sh [ARCH]            on a GPU machine with a tttc build
#   bench/gpu/run.sh --prepare ARCH    on a build machine: kernels and check
#                                      data into .gpurun/ (copy it over), then
#   bench/gpu/run.sh --device          on the GPU machine (no MLIR needed:
#                                      python3 with torch and numpy, a C++
#                                      compiler for the launch runtime)
#   bench/gpu/run.sh --prepare-tools   on a build machine: a tttc with MLIR
#                                      linked in (static build), FileCheck and
#                                      lit into .gpurun/tools, so that
#   bench/gpu/run.sh --device-lit      runs the GPU lit tests (REQUIRES:
#                                      cuda-driver) on the GPU machine
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.gpurun
tttc=build/bin/tttc
examples="ttt_linear ttt_mlp titans_linear titans_mlp delta gated_delta linear_attention infini_attention infini_attention_delta"
# The python3 that has numpy (and torch): PATH's first, else Debian's.
py=python3
if ! python3 -c 'import numpy' 2>/dev/null && [ -x /usr/bin/python3 ]; then py=/usr/bin/python3; fi

prepare() {
  local arch=$1
  mkdir -p $out/bench $out/check
  # The launch runtime is rebuilt from this checkout on the device.
  rm -f $out/libtttc_cuda.so
  for l in ttt_linear ttt_mlp; do
    $tttc examples/$l.mlir --emit=ptx --arch=$arch --head-dim 64 -o $out/bench/$l.ptx 2>/dev/null
    $tttc examples/$l.mlir --emit=ptx --arch=$arch --head-dim 64 --io-dtype bf16 \
      -o $out/bench/$l.bf16.ptx 2>/dev/null
    # Beside the default kernel (512 threads per program, ALAP-ordered chunk
    # step, tensor cores), one option changed each: timed in one process
    # (bench_gpu.py --variant) with their ratio to the default.
    for v in gpu-threads=128:t128 gpu-threads=1024:t1024 schedule=asap:asap schedule=none:none \
        tensor-cores=false:tc0 mma-chains=2:mc2 mma-chains=3:mc3 \
        static-rounds=false,row-warps=false,tid-per-chunk=false,pack-buffers,min-programs=1,mma-n-tiles=1:s4 \
        row-warps=false:rw0 tid-per-chunk=false:tid0 static-rounds=false:strided pack-buffers:packed \
        mma-precision=tf32:tf32 mma-precision=tf32-rz:rz prefetch=0:pf0 prefetch=1:pf1 prefetch=64:pftop \
        mma-n-tiles=1:nt1 mma-n-tiles=2:nt2 mma-n-tiles=4:nt4 mma-precision=tf32-rz,mma-n-tiles=2:rznt2 \
        warp-rotate:rot1 mma-k-split:ks mma-k-split,warp-rotate:ksrot; do
      local flags="--${v%%:*}"
      $tttc compile examples/$l.mlir --target=cuda ${flags//,/ --} --arch=$arch --emit=ptx \
        --head-dim 64 -o $out/bench/$l.${v##*:}.ptx > /dev/null 2>&1
    done
  done
  # Column blocks (1, 2, 4 programs per (b, h)) of layers that allow them.
  for l in linear_attention delta; do for n in 1 2 4; do
    $tttc compile examples/$l.mlir --target=cuda --column-blocks=$n --arch=$arch --emit=ptx \
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
    if $tttc compile examples/$s.mlir --target=cuda --column-blocks=4 --arch=$arch --emit=ptx \
        --head-dim $d -o $dir.cb4.ptx > /dev/null 2>&1; then
      echo "$dir.cb4.ptx $dir" >> $out/check/list
    fi
    # The other claimed targets this device can run: sm_80 PTX (compiled for
    # this device by the driver), and sm_90a on an sm_90 device.
    if [ $d = 64 ]; then
      local others=sm_80
      [ $arch = sm_90 ] && others="sm_80 sm_90a"
      for a in $others; do
        [ $a = $arch ] && continue
        $tttc examples/$s.mlir --emit=ptx --arch=$a --head-dim $d -o $dir.$a.ptx 2>/dev/null
        echo "$dir.$a.ptx $dir" >> $out/check/list
      done
    fi
  done; done
  echo "prepared $out for $arch"
}

# A tttc that needs no MLIR installation: MLIR and LLVM linked statically
# (-DTTTC_LINK_MLIR_DYLIB=OFF), with FileCheck, not, count and lit beside it.
prepare_tools() {
  local sb=${STATIC_BUILD_DIR:-build-static} t=$out/tools
  if [ ! -f $sb/build.ninja ]; then
    cmake -G Ninja -S . -B $sb -DCMAKE_BUILD_TYPE=Release \
      -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir -DTTTC_LINK_MLIR_DYLIB=OFF \
      -DTTTC_BUILD_TESTS=OFF -DCMAKE_EXE_LINKER_FLAGS="-Wl,--gc-sections" \
      -DCMAKE_SHARED_LINKER_FLAGS="-Wl,--gc-sections -Wl,--exclude-libs,ALL"
  fi
  cmake --build $sb --target tttc
  rm -rf $t && mkdir -p $t/bin $t/lib
  cp $sb/bin/tttc /usr/lib/llvm-22/bin/FileCheck /usr/lib/llvm-22/bin/not \
    /usr/lib/llvm-22/bin/count $t/bin/
  cp $sb/lib/libtttc_cuda.so $t/lib/
  # Compressed to fit what travels to a device machine (libtttc.so ~120 MB).
  strip --strip-unneeded -o $t/lib/libtttc.so $sb/lib/libtttc.so
  xz -T0 -6 $t/lib/libtttc.so
  xz -T0 -6 -c /usr/lib/x86_64-linux-gnu/libz3.so.4 > $t/lib/libz3.so.4.xz  # FileCheck's
  tar -C /usr/lib/llvm-22/utils -cf $t/lit.tar lit
  du -sh $t
}

device_lit() {
  local t=$PWD/$out/tools
  $py -c 'import lzma, os, shutil, sys
for f in os.listdir(sys.argv[1]):
    if f.endswith(".xz"):
        p = os.path.join(sys.argv[1], f)
        with lzma.open(p) as i, open(p[:-3], "wb") as o:
            shutil.copyfileobj(i, o)
        os.remove(p)' "$t/lib"
  tar -C $t -xf $t/lit.tar
  mkdir -p $t/test
  printf '%s\n' "config.llvm_tools_dir = '$t/bin'" "config.tttc_obj_root = '$t'" \
    "config.tttc_src_root = '$PWD'" "import lit.llvm" \
    "lit.llvm.initialize(lit_config, config)" \
    "lit_config.load_config(config, '$PWD/test/lit.cfg.py')" > $t/test/lit.site.cfg.py
  LD_LIBRARY_PATH=$t/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
    PYTHONPATH=$t/lit $py -c 'from lit.main import main; main()' -v $t/test \
    --filter "${LIT_FILTER:-GPU/cuda-run(-cubin)?\.test}"
}

device() {
  local args=()
  while read -r kernel dir; do args+=("$kernel" "$dir"); done < $out/check/list
  $py bench/gpu/run_ptx.py "${args[@]}"
  # The default kernels under compute-sanitizer (out-of-bounds and
  # misaligned accesses, shared-memory races, barrier misuse, reads of
  # uninitialised memory), at a small shape.
  if command -v compute-sanitizer > /dev/null; then
    for l in ttt_linear ttt_mlp; do for tool in memcheck racecheck synccheck initcheck; do
      compute-sanitizer --tool $tool --error-exitcode 9 --print-limit 5 \
        $py bench/gpu/launch_once.py $out/bench/$l.ptx $l --shape 2 37 3 | tail -1
    done; done
  fi
  $py bench/gpu/bench_gpu.py $out/bench "$@"
  $py bench/gpu/bench_gpu.py $out/bench --io bf16 "$@"
  $py bench/gpu/bench_gpu.py $out/bench --quick --variant ,.s4,.rw0,.tid0,.strided,.packed,.t128,.t1024,.asap,.none,.tc0,.mc2,.mc3,.tf32,.rz,.pf0,.pf1,.pftop,.nt1,.nt2,.nt4,.rznt2,.rot1,.ks,.ksrot "$@"
  $py bench/gpu/bench_columns.py $out/bench
}

case "${1:-}" in
  --prepare) prepare "$2" ;;
  --prepare-tools) prepare_tools ;;
  --device-lit) device_lit ;;
  --device) shift; device "$@" ;;
  *)
    arch=${1:-$($py -c 'import torch; m, n = torch.cuda.get_device_capability(); print(f"sm_{m}{n}")')}
    prepare "$arch"
    device ;;
esac
