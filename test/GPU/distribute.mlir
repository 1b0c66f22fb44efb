// RUN: ttt-opt %s --ttt-distribute-to-threads="gpu-threads=64 tensor-cores=0 pad-rows=0" | FileCheck %s
// RUN: ttt-opt %s --ttt-distribute-to-threads="gpu-threads=64 tensor-cores=0 shared-kb=2 pad-rows=0" 2>&1 | FileCheck %s --check-prefix=SMALL
// RUN: ttt-opt %s --ttt-distribute-to-threads="gpu-threads=64 tensor-cores=0 fault=drop-barrier pad-rows=0" | FileCheck %s --check-prefix=FAULT
// RUN: ttt-opt %s --ttt-distribute-to-threads="gpu-threads=64 pad-rows=0" | FileCheck %s --check-prefix=TC
// RUN: ttt-opt %s --ttt-distribute-to-threads="gpu-threads=96 tensor-cores=0 pad-rows=0 static-rounds=1" | FileCheck %s --check-prefix=STATIC
// RUN: ttt-opt %s --ttt-distribute-to-threads="gpu-threads=64 pad-rows=0 mma-precision=tf32" | FileCheck %s --check-prefix=TF32
// RUN: ttt-opt %s --ttt-distribute-to-threads="gpu-threads=64 pad-rows=0 mma-precision=tf32-rz" | FileCheck %s --check-prefix=RZ
// RUN: not ttt-opt %s --ttt-distribute-to-threads="gpu-threads=64 mma-precision=tf32 mma-chains=2" 2>&1 | FileCheck %s --check-prefix=PCHAINS
// RUN: ttt-opt %s --ttt-distribute-to-threads="gpu-threads=64 pad-rows=0 mma-n-tiles=2" | FileCheck %s --check-prefix=NT2
// RUN: not ttt-opt %s --ttt-distribute-to-threads="gpu-threads=64 mma-n-tiles=9" 2>&1 | FileCheck %s --check-prefix=NTBAD
// RUN: not ttt-opt %s --ttt-distribute-to-threads="gpu-threads=64 mma-precision=f16" 2>&1 | FileCheck %s --check-prefix=PBAD

// RUN: ttt-opt %s --ttt-distribute-to-threads="gpu-threads=64 tensor-cores=0" | FileCheck %s --check-prefix=PAD

// Rows of 16 floats (64 bytes: a column of every second row in one bank) are
// stored 20 floats apart; the ops index a subview of the padded rows, and
// the barriers are where they were without padding.
// PAD-LABEL: func.func @chain(
// PAD: dynamic_shared_memory_size %c3840_i32
// PAD: %[[V:.*]] = memref.view %{{.*}}[%c0{{.*}}][] {{.*}} to memref<16x20xf32, #gpu.address_space<workgroup>>
// PAD: %[[A:.*]] = memref.subview %[[V]][0, 0] [16, 16] [1, 1] : memref<16x20xf32, #gpu.address_space<workgroup>> to memref<16x16xf32, strided<[20, 1]>, #gpu.address_space<workgroup>>
// PAD: memref.store %{{.*}}, %[[A]][
// PAD-LABEL: func.func @prefix(
// PAD: memref.store %cst, %[[BUF:subview[_0-9]*]][
// PAD: } {ttt.distributed}
// PAD-NOT: gpu.barrier
// PAD: %[[PRE:.*]] = memref.subview %[[BUF]][0, 0] [%{{.*}}, 16] [1, 1] : memref<16x16xf32, strided<[20, 1]>, #gpu.address_space<workgroup>> to memref<?x16xf32, strided<[20, 1]>, #gpu.address_space<workgroup>>
// PAD-NOT: gpu.barrier
// PAD: memref.store %{{.*}}, %[[PRE]][
// PAD: } {ttt.distributed}
// PAD: gpu.barrier
// PAD-NEXT: scf.for

// Barriers go exactly where a thread may read what another thread wrote (or
// overwrite what another read): not between two ops that touch each element
// from the same thread, before a reduction that reads other threads'
// elements, and at the end of the loop body (the next iteration overwrites
// what this one read).

#id = affine_map<(d0, d1) -> (d0, d1)>
#a = affine_map<(d0, d1, d2) -> (d0, d1)>
#b = affine_map<(d0, d1, d2) -> (d1, d2)>
#c = affine_map<(d0, d1, d2) -> (d0, d2)>

// CHECK-LABEL: func.func @chain(
// CHECK: gpu.launch {{.*}} threads(%[[TX:[^,]*]], {{.*}}) in (%[[BD:[^ ]*]] = %c64, {{.*}}) dynamic_shared_memory_size %c3072_i32
// CHECK: %[[SMEM:.*]] = gpu.dynamic_shared_memory
// CHECK: %[[A:.*]] = memref.view %[[SMEM]][%c0{{.*}}][] {{.*}} to memref<16x16xf32, #gpu.address_space<workgroup>>
// CHECK: %[[B:.*]] = memref.view %[[SMEM]][%c1024{{.*}}][]
// CHECK: %[[C:.*]] = memref.view %[[SMEM]][%c2048{{.*}}][]
// CHECK: scf.for %[[I:.*]] = %c0 to %{{.*}} step %c1 {
// Loops over the same points with no barrier between them are fused.
// CHECK:   scf.for %[[P:.*]] = %[[TX]] to %c256 step %[[BD]] {
// CHECK:     %[[J:.*]] = arith.remui %[[P]], %c16
// CHECK:     %[[R:.*]] = arith.divui %[[P]], %c16
// CHECK:     memref.store %{{.*}}, %[[A]][%[[R]], %[[J]]]
// CHECK-NOT: gpu.barrier
// CHECK:     math.exp
// CHECK-NOT: gpu.barrier
// CHECK:     memref.store %cst
// CHECK:   } {ttt.distributed}
// CHECK-NOT: scf.for
// CHECK: gpu.barrier
// CHECK-NOT: gpu.barrier
// CHECK: scf.for %{{.*}} = %[[TX]] to %{{.*}} step %[[BD]] {
// CHECK:     scf.for {{.*}} iter_args
// CHECK-NOT: gpu.barrier
// CHECK:     memref.store %{{.*}}, %subview
// CHECK:   } {ttt.distributed}
// CHECK-NEXT: gpu.barrier
// CHECK-NEXT: }
// CHECK-NEXT: gpu.terminator

// Tensor cores: the 16x16x16 matmul as m16n8 tiles taken by warps in turn
// (2 warps of 64 threads), K in steps of 8, 3xTF32 (three MMAs per step),
// the accumulator loaded from and stored to C with the fragment layout.
// TC: %[[LANE:.*]] = arith.remui %{{.*}}, %c32
// TC: %[[WARP:.*]] = arith.divui %{{.*}}, %c32
// TC: scf.for %{{.*}} = %[[WARP]] to %c2{{.*}} step %c2
// TC: vector.from_elements {{.*}} : vector<2x2xf32>
// TC: scf.for %{{.*}} = %c0{{.*}} to %c16{{.*}} step %c8{{.*}} iter_args
// TC: arith.andi %{{.*}}, %c-8192_i32
// TC-COUNT-3: nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 8], tf32Enabled} : (vector<4x1xf32>, vector<2x1xf32>, vector<2x2xf32>) -> vector<2x2xf32>
// TC-COUNT-4: memref.store
// TC: gpu.barrier

// precision=tf32: one product per k step of operands rounded to the nearest
// tf32 (add half an ulp of tf32, clear the low 13 bits); tf32-rz: of the
// operands as loaded.
// TF32: scf.for %{{.*}} = %c0{{.*}} to %c16{{.*}} step %c8{{.*}} iter_args
// TF32-COUNT-6: arith.andi
// TF32-NOT: arith.subf
// TF32: nvgpu.mma.sync
// TF32-NOT: nvgpu.mma.sync
// TF32: scf.yield
// RZ: scf.for %{{.*}} = %c0{{.*}} to %c16{{.*}} step %c8{{.*}} iter_args
// RZ-NOT: arith.andi
// RZ-DAG: %[[A:.*]] = vector.from_elements {{.*}} : vector<4x1xf32>
// RZ-DAG: %[[B:.*]] = vector.from_elements {{.*}} : vector<2x1xf32>
// RZ: nvgpu.mma.sync(%[[A]], %[[B]], %{{.*}})
// RZ-NOT: nvgpu.mma.sync
// RZ: scf.yield
// mma-n-tiles=2: one warp task per row of two tiles (of 2: the warp loop
// runs once, from the warp id to 1), two accumulators; per k step the A
// fragment is loaded and split once (4 loads, 4 masks), then each tile's B
// fragment (2 loads, 2 masks) and its three products.
// NT2: scf.for %{{.*}} = %[[W:.*]] to %c1{{.*}} step %c2
// NT2: scf.for %{{.*}} = %c0{{.*}} to %c16{{.*}} step %c8{{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (vector<2x2xf32>, vector<2x2xf32>)
// NT2-COUNT-4: memref.load
// NT2-COUNT-4: arith.andi
// NT2-COUNT-2: memref.load
// NT2-COUNT-2: arith.andi
// NT2-COUNT-3: nvgpu.mma.sync
// NT2-COUNT-2: memref.load
// NT2-COUNT-2: arith.andi
// NT2-COUNT-3: nvgpu.mma.sync
// NT2-NOT: nvgpu.mma.sync
// NT2: scf.yield
// NT2-COUNT-8: memref.store
// NTBAD: error: ttt-distribute-to-threads: mma-n-tiles must be in [0, 8]
// PCHAINS: error: ttt-distribute-to-threads: mma-chains applies to the three products of mma-precision=tf32x3
// PBAD: error: ttt-distribute-to-threads: mma-precision must be tf32x3, tf32 or tf32-rz, not 'f16'

// SMALL: remark: shared memory (2 KB) holds 2 of the program's 3 buffers; the other 1 (1 KB per program) live in global scratch memory (slower)
// SMALL: %[[SCRATCH:.*]] = memref.alloc(%{{.*}}) {alignment = 256 : i64, ttt.scratch = 1024 : i64} : memref<?xi8>
// SMALL: gpu.launch blocks(%[[BX:[^,]*]], %[[BY:[^,]*]], %[[BZ:[^)]*]]) in (%{{[^ ]*}} = %c1, %[[GY:[^ ]*]] = %c1{{[^,]*}}, %[[GZ:[^ ]*]] = %c1
// SMALL: %[[P:.*]] = arith.muli %[[BX]], %[[GY]]
// SMALL: %[[PXY:.*]] = arith.addi %[[P]], %[[BY]]
// SMALL: %[[PZ:.*]] = arith.muli %[[PXY]], %[[GZ]]
// SMALL: %[[PROG:.*]] = arith.addi %[[PZ]], %[[BZ]]
// SMALL: %[[BASE:.*]] = arith.muli %[[PROG]], %c1024
// SMALL: %[[OFF:.*]] = arith.addi %[[BASE]], %c0
// SMALL: memref.view %[[SCRATCH]][%[[OFF]]][] : memref<?xi8> to memref<16x16xf32>

// With static-rounds, 256 points on 96 threads: 3 rounds, point k * 96 + tid
// in round k, the last round guarded; loops over the same points still fuse.
// STATIC-LABEL: func.func @chain(
// STATIC: threads(%[[TX:[^,]*]], {{.*}}) in (%{{[^ ]*}} = %c96,
// STATIC: scf.for %[[K:[^ ]*]] = %c0{{[_0-9]*}} to %c3{{[_0-9]*}} step %c1{{[_0-9]*}} {
// STATIC:   %[[M:.*]] = arith.muli %[[K]], %c96
// STATIC:   %[[P:.*]] = arith.addi %[[M]], %[[TX]] : index
// STATIC:   %[[IN:.*]] = arith.cmpi ult, %[[P]], %c256
// STATIC:   scf.if %[[IN]] {
// STATIC:     arith.remui %[[P]], %c16
// STATIC:     memref.store
// STATIC:   scf.if
// STATIC:     math.exp
// STATIC:   } {ttt.distributed}
// STATIC: gpu.barrier

// FAULT-LABEL: func.func @chain(
// FAULT: memref.store %cst
// FAULT: } {ttt.distributed}
// FAULT-NOT: gpu.barrier
// FAULT: iter_args
func.func @chain(%in: memref<?x16xf32>, %out: memref<?x16xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %a = memref.alloca() : memref<16x16xf32>
    %b = memref.alloca() : memref<16x16xf32>
    %c = memref.alloca() : memref<16x16xf32>
    scf.for %i = %c0 to %n step %c1 {
      %src = memref.subview %in[%i, 0] [16, 16] [1, 1]
          : memref<?x16xf32> to memref<16x16xf32, strided<[16, 1], offset: ?>>
      linalg.copy ins(%src : memref<16x16xf32, strided<[16, 1], offset: ?>>)
                  outs(%a : memref<16x16xf32>)
      linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
          ins(%a : memref<16x16xf32>) outs(%b : memref<16x16xf32>) {
      ^bb0(%x: f32, %o: f32):
        %e = math.exp %x : f32
        linalg.yield %e : f32
      }
      linalg.fill ins(%zero : f32) outs(%c : memref<16x16xf32>)
      linalg.generic {indexing_maps = [#a, #b, #c],
                      iterator_types = ["parallel", "reduction", "parallel"]}
          ins(%a, %b : memref<16x16xf32>, memref<16x16xf32>) outs(%c : memref<16x16xf32>) {
      ^bb0(%x: f32, %y: f32, %o: f32):
        %m = arith.mulf %x, %y : f32
        %s = arith.addf %o, %m : f32
        linalg.yield %s : f32
      }
      %dst = memref.subview %out[%i, 0] [16, 16] [1, 1]
          : memref<?x16xf32> to memref<16x16xf32, strided<[16, 1], offset: ?>>
      linalg.copy ins(%c : memref<16x16xf32>)
                  outs(%dst : memref<16x16xf32, strided<[16, 1], offset: ?>>)
    }
    gpu.terminator
  }
  return
}

// Zero-filling a buffer and then copying a chunk's real rows into its prefix
// touch each element from the same thread (points delinearized by the same
// inner sizes, a subview that keeps the indexing): no barrier between them.
// CHECK-LABEL: func.func @prefix(
// CHECK: memref.store %cst, %[[BUF:view[_0-9]*]][
// CHECK: } {ttt.distributed}
// CHECK-NOT: gpu.barrier
// CHECK: %[[PRE:.*]] = memref.subview %[[BUF]][0, 0] [%{{.*}}, 16] [1, 1]
// CHECK-NOT: gpu.barrier
// CHECK: memref.store %{{.*}}, %[[PRE]][
// CHECK: } {ttt.distributed}
// The transpose reads other threads' elements: a barrier.
// CHECK: gpu.barrier
// CHECK-NEXT: scf.for
func.func @prefix(%in: memref<?x16xf32>, %out: memref<16x16xf32>, %rows: index) {
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %buf = memref.alloca() : memref<16x16xf32>
    linalg.fill ins(%zero : f32) outs(%buf : memref<16x16xf32>)
    %pre = memref.subview %buf[0, 0] [%rows, 16] [1, 1]
        : memref<16x16xf32> to memref<?x16xf32, strided<[16, 1]>>
    linalg.copy ins(%in : memref<?x16xf32>) outs(%pre : memref<?x16xf32, strided<[16, 1]>>)
    linalg.transpose ins(%buf : memref<16x16xf32>) outs(%out : memref<16x16xf32>)
        permutation = [1, 0]
    gpu.terminator
  }
  return
}

// A row sum with fewer rows than threads: 8 threads per row (128 / 16), each
// adding every 8th term, partial sums combined by xor shuffles inside the
// warp, the group's first thread adding the total to the output.
// RUN: ttt-opt %s --ttt-distribute-to-threads="gpu-threads=128 pad-rows=0" | FileCheck %s --check-prefix=SUM
// SUM-LABEL: func.func @rowsum(
// SUM: %[[LANE:.*]] = arith.remui %{{.*}}, %c8
// SUM: scf.for %{{.*}} = %c0{{.*}} to %c1{{.*}} step %c1
// SUM: scf.for %{{.*}} = %[[LANE]] to %c64{{.*}} step %c8{{.*}} iter_args
// SUM: gpu.shuffle  xor %{{.*}}, %c4_i32, %c32_i32 : f32
// SUM: gpu.shuffle  xor %{{.*}}, %c2_i32, %c32_i32 : f32
// SUM: gpu.shuffle  xor %{{.*}}, %c1_i32, %c32_i32 : f32
// SUM: scf.if
// SUM: memref.store
func.func @rowsum(%in: memref<16x64xf32>, %out: memref<16x1xf32>) {
  %c1 = arith.constant 1 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, 0)>],
                    iterator_types = ["parallel", "reduction"]}
        ins(%in : memref<16x64xf32>) outs(%out : memref<16x1xf32>) {
    ^bb0(%x: f32, %o: f32):
      %sq = arith.mulf %x, %x : f32
      %s = arith.addf %o, %sq : f32
      linalg.yield %s : f32
    }
    gpu.terminator
  }
  return
}

// Subviews of subviews of a padded buffer take the padded row stride.
// PAD-LABEL: func.func @nested(
// PAD: %[[V:.*]] = memref.view {{.*}} to memref<16x20xf32, #gpu.address_space<workgroup>>
// PAD: %[[W:.*]] = memref.subview %[[V]][0, 0] [16, 16] [1, 1]
// PAD: %[[A:.*]] = memref.subview %[[W]][4, 0] [8, 16] [1, 1] : memref<16x16xf32, strided<[20, 1]>, #gpu.address_space<workgroup>> to memref<8x16xf32, strided<[20, 1], offset: 80>, #gpu.address_space<workgroup>>
// PAD: %[[B:.*]] = memref.subview %[[A]][2, 0] [1, 16] [1, 1] : memref<8x16xf32, strided<[20, 1], offset: 80>, #gpu.address_space<workgroup>> to memref<16xf32, strided<[1], offset: 120>, #gpu.address_space<workgroup>>
// PAD: memref.subview %[[B]][4] [8] [1] : memref<16xf32, strided<[1], offset: 120>, #gpu.address_space<workgroup>> to memref<8xf32, strided<[1], offset: 124>, #gpu.address_space<workgroup>>
func.func @nested(%out: memref<8xf32>) {
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %buf = memref.alloca() : memref<16x16xf32>
    linalg.fill ins(%zero : f32) outs(%buf : memref<16x16xf32>)
    %a = memref.subview %buf[4, 0] [8, 16] [1, 1]
        : memref<16x16xf32> to memref<8x16xf32, strided<[16, 1], offset: 64>>
    %b = memref.subview %a[2, 0] [1, 16] [1, 1]
        : memref<8x16xf32, strided<[16, 1], offset: 64>> to memref<16xf32, strided<[1], offset: 96>>
    %c = memref.subview %b[4] [8] [1]
        : memref<16xf32, strided<[1], offset: 96>> to memref<8xf32, strided<[1], offset: 100>>
    linalg.copy ins(%c : memref<8xf32, strided<[1], offset: 100>>) outs(%out : memref<8xf32>)
    gpu.terminator
  }
  return
}

// Row warps (512 threads, 16 warps): x = 2 in, its row sums s, out = x - s.
// Warp w runs row w, lane l its columns l and l + 32, as the split sum does:
// the sum reads what the same thread wrote (no barrier), lane 0 zeroes and
// adds the row's sum, and the other lanes read it after a warp barrier.
// RUN: ttt-opt %s --ttt-distribute-to-threads="gpu-threads=512 row-warps=1 pad-rows=0 tensor-cores=0" | FileCheck %s --check-prefix=ROWS
// ROWS-LABEL: func.func @rows(
// ROWS: threads(%[[TX:[^,]*]],
// ROWS: %[[WARP:.*]] = arith.divui %[[TX]], %c32
// ROWS: %[[LANE:.*]] = arith.remui %[[TX]], %c32
// ROWS: scf.for %[[I:[^ ]*]] = %c0{{[_0-9]*}} to %c1{{[_0-9]*}} step %c1
// ROWS:   %[[R:.*]] = arith.addi %[[WARP]], %{{.*}} : index
// ROWS:   scf.for %[[J:[^ ]*]] = %c0{{[_0-9]*}} to %c2{{[_0-9]*}} step %c1
// ROWS:     %[[C:.*]] = arith.addi %[[LANE]], %{{.*}} : index
// ROWS:     arith.mulf
// ROWS:     memref.store %{{.*}}, %[[X:.*]][%[[R]], %[[C]]]
// ROWS-NOT: gpu.barrier
// ROWS:   arith.cmpi eq, %[[LANE]], %c0
// ROWS:   memref.store %cst, %[[S:.*]][%{{.*}}, %c0
// ROWS-NOT: gpu.barrier
// ROWS: gpu.shuffle xor
// ROWS-NOT: gpu.barrier
// ROWS: nvvm.bar.warp.sync
// ROWS-NOT: gpu.barrier
// ROWS: arith.subf
// ROWS-NOT: gpu.barrier
// ROWS: gpu.terminator
#r2 = affine_map<(d0, d1) -> (d0, d1)>
#r1 = affine_map<(d0, d1) -> (d0, 0)>
func.func @rows(%in: memref<16x64xf32>, %out: memref<16x64xf32>) {
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %two = arith.constant 2.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %x = memref.alloca() : memref<16x64xf32>
    %s = memref.alloca() : memref<16x1xf32>
    linalg.generic {indexing_maps = [#r2, #r2], iterator_types = ["parallel", "parallel"]}
        ins(%in : memref<16x64xf32>) outs(%x : memref<16x64xf32>) {
    ^bb0(%a: f32, %o: f32):
      %m = arith.mulf %a, %two : f32
      linalg.yield %m : f32
    }
    linalg.fill ins(%zero : f32) outs(%s : memref<16x1xf32>)
    linalg.generic {indexing_maps = [#r2, #r1], iterator_types = ["parallel", "reduction"]}
        ins(%x : memref<16x64xf32>) outs(%s : memref<16x1xf32>) {
    ^bb0(%a: f32, %o: f32):
      %t = arith.addf %o, %a : f32
      linalg.yield %t : f32
    }
    linalg.generic {indexing_maps = [#r2, #r1, #r2], iterator_types = ["parallel", "parallel"]}
        ins(%x, %s : memref<16x64xf32>, memref<16x1xf32>) outs(%out : memref<16x64xf32>) {
    ^bb0(%a: f32, %b: f32, %o: f32):
      %d = arith.subf %a, %b : f32
      linalg.yield %d : f32
    }
    gpu.terminator
  }
  return
}

// Buffers live in turn share bytes (a and b at offset 0) unless all fit
// apart within occupancy-kb: then b's fill need not wait for the threads
// still reading a (one barrier fewer).
// RUN: ttt-opt %s --ttt-distribute-to-threads="gpu-threads=64 tensor-cores=0 pad-rows=0" | FileCheck %s --check-prefix=PACKED
// RUN: ttt-opt %s --ttt-distribute-to-threads="gpu-threads=64 tensor-cores=0 pad-rows=0 occupancy-kb=64" | FileCheck %s --check-prefix=APART
// PACKED-LABEL: func.func @reuse(
// PACKED: dynamic_shared_memory_size %c1024_i32
// PACKED: %[[A:.*]] = memref.view %{{.*}}[%c0{{[_0-9]*}}][]
// PACKED: %[[B:.*]] = memref.view %{{.*}}[%c0{{[_0-9]*}}][]
// PACKED: memref.store %{{.*}}, %[[A]]
// PACKED: gpu.barrier
// PACKED: memref.load %[[A]]
// PACKED: gpu.barrier
// PACKED: memref.store %{{.*}}, %[[B]]
// APART-LABEL: func.func @reuse(
// APART: dynamic_shared_memory_size %c2048_i32
// APART: %[[A:.*]] = memref.view %{{.*}}[%c0{{[_0-9]*}}][]
// APART: %[[B:.*]] = memref.view %{{.*}}[%c1024][]
// APART: memref.store %{{.*}}, %[[A]]
// APART: gpu.barrier
// APART: memref.load %[[A]]
// APART-NOT: gpu.barrier
// APART: memref.store %{{.*}}, %[[B]]
// APART: gpu.barrier
#tr = affine_map<(d0, d1) -> (d1, d0)>
func.func @reuse(%out: memref<?x16x16xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %one = arith.constant 1.0 : f32
  %two = arith.constant 2.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %a = memref.alloca() : memref<16x16xf32>
    %b = memref.alloca() : memref<16x16xf32>
    scf.for %i = %c0 to %n step %c1 {
      %o = memref.subview %out[%i, 0, 0] [1, 16, 16] [1, 1, 1]
          : memref<?x16x16xf32> to memref<16x16xf32, strided<[16, 1], offset: ?>>
      linalg.fill ins(%one : f32) outs(%a : memref<16x16xf32>)
      linalg.generic {indexing_maps = [#tr, #r2], iterator_types = ["parallel", "parallel"]}
          ins(%a : memref<16x16xf32>) outs(%o : memref<16x16xf32, strided<[16, 1], offset: ?>>) {
      ^bb0(%x: f32, %y: f32):
        linalg.yield %x : f32
      }
      linalg.fill ins(%two : f32) outs(%b : memref<16x16xf32>)
      linalg.generic {indexing_maps = [#tr, #r2], iterator_types = ["parallel", "parallel"]}
          ins(%b : memref<16x16xf32>) outs(%o : memref<16x16xf32, strided<[16, 1], offset: ?>>) {
      ^bb0(%x: f32, %y: f32):
        %s = arith.addf %x, %y : f32
        linalg.yield %s : f32
      }
    }
    gpu.terminator
  }
  return
}

// Two matmuls of one m16n8 tile each, nothing between them to wait for: the
// second one's task goes to the next warp (warp 1 of 4), not to warp 0 again.
// RUN: ttt-opt %s --ttt-distribute-to-threads="gpu-threads=128 pad-rows=0 warp-rotate=1" | FileCheck %s --check-prefix=ROT
// RUN: ttt-opt %s --ttt-distribute-to-threads="gpu-threads=128 pad-rows=0" | FileCheck %s --check-prefix=NOROT
// Without warp-rotate both start at warp 0.
// NOROT-LABEL: func.func @two_matmuls(
// NOROT: %[[WARP:.*]] = arith.divui %{{.*}}, %c32
// NOROT: scf.for %{{.*}} = %[[WARP]] to %c1{{[_0-9]*}} step %c4
// NOROT: %[[W2:.*]] = arith.divui %{{.*}}, %c32
// NOROT-NOT: arith.addi %[[W2]]
// NOROT: scf.for %{{.*}} = %[[W2]] to %c1{{[_0-9]*}} step %c4
// ROT-LABEL: func.func @two_matmuls(
// ROT: %[[WARP:.*]] = arith.divui %{{.*}}, %c32
// ROT: gpu.barrier
// ROT: scf.for %{{.*}} = %[[WARP]] to %c1{{[_0-9]*}} step %c4
// ROT: nvgpu.mma.sync
// ROT-NOT: gpu.barrier
// ROT: %[[W2:.*]] = arith.divui %{{.*}}, %c32
// ROT-NOT: gpu.barrier
// ROT: %[[S:.*]] = arith.addi %[[W2]], %c3
// ROT: %[[F:.*]] = arith.andi %[[S]], %c3
// ROT: scf.for %{{.*}} = %[[F]] to %c1{{[_0-9]*}} step %c4
// ROT: nvgpu.mma.sync
// ROT: gpu.barrier
func.func @two_matmuls(%a: memref<16x8xf32>, %b: memref<8x8xf32>, %out: memref<16x8xf32>) {
  %c1 = arith.constant 1 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %c = memref.alloca() : memref<16x8xf32>
    %d = memref.alloca() : memref<16x8xf32>
    linalg.copy ins(%out : memref<16x8xf32>) outs(%c : memref<16x8xf32>)
    linalg.copy ins(%out : memref<16x8xf32>) outs(%d : memref<16x8xf32>)
    linalg.generic {indexing_maps = [#a, #b, #c],
                    iterator_types = ["parallel", "reduction", "parallel"]}
        ins(%a, %b : memref<16x8xf32>, memref<8x8xf32>) outs(%c : memref<16x8xf32>) {
    ^bb0(%x: f32, %y: f32, %o: f32):
      %m = arith.mulf %x, %y : f32
      %s = arith.addf %o, %m : f32
      linalg.yield %s : f32
    }
    linalg.generic {indexing_maps = [#a, #b, #c],
                    iterator_types = ["parallel", "reduction", "parallel"]}
        ins(%a, %b : memref<16x8xf32>, memref<8x8xf32>) outs(%d : memref<16x8xf32>) {
    ^bb0(%x: f32, %y: f32, %o: f32):
      %m = arith.mulf %x, %y : f32
      %s = arith.addf %o, %m : f32
      linalg.yield %s : f32
    }
    linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
        ins(%c, %d : memref<16x8xf32>, memref<16x8xf32>) outs(%out : memref<16x8xf32>) {
    ^bb0(%x: f32, %y: f32, %o: f32):
      %e = arith.addf %x, %y : f32
      linalg.yield %e : f32
    }
    gpu.terminator
  }
  return
}

// Split-K: one m16n8 tile with 8 k steps on 4 warps: 4 tasks of 2 k steps;
// the first from C into C, the others from zero into a [3, 16, 8] buffer of
// partial sums, added to C after a barrier (in order). Not without room
// for the partial sums (occupancy-kb=0: buffers packed).
// RUN: ttt-opt %s --ttt-distribute-to-threads="gpu-threads=128 pad-rows=0 mma-k-split=1 occupancy-kb=64" | FileCheck %s --check-prefix=KSPLIT
// RUN: ttt-opt %s --ttt-distribute-to-threads="gpu-threads=128 pad-rows=0 mma-k-split=1" | FileCheck %s --check-prefix=NOSPLIT
// KSPLIT-LABEL: func.func @long_k(
// KSPLIT: %[[P:.*]] = memref.view %{{.*}} to memref<3x16x8xf32, #gpu.address_space<workgroup>>
// KSPLIT: %[[P1:.*]] = memref.subview %[[P]][0, 0, 0] [1, 16, 8] [1, 1, 1]
// KSPLIT: %[[P2:.*]] = memref.subview %[[P]][1, 0, 0] [1, 16, 8] [1, 1, 1]
// KSPLIT: %[[P3:.*]] = memref.subview %[[P]][2, 0, 0] [1, 16, 8] [1, 1, 1]
// KSPLIT: %[[WARP:.*]] = arith.divui %{{.*}}, %c32
// KSPLIT: scf.for %[[T:.*]] = %[[WARP]] to %c4{{[_0-9]*}} step %c4
// KSPLIT:   %[[S:.*]] = arith.divui %[[T]], %c1
// KSPLIT:   %[[LO:.*]] = arith.muli %[[S]], %c16
// KSPLIT:   %[[HI:.*]] = arith.addi %[[LO]], %c16
// KSPLIT:   %[[FIRST:.*]] = arith.cmpi eq, %[[S]], %c0
// KSPLIT:   %[[INIT:.*]] = scf.if %[[FIRST]] -> (vector<2x2xf32>) {
// KSPLIT:     memref.load %[[C:[^\[]*]]
// KSPLIT:   } else {
// KSPLIT:     scf.yield %cst{{[_0-9]*}} : vector<2x2xf32>
// KSPLIT:   scf.for %{{.*}} = %[[LO]] to %[[HI]] step %c8{{[_0-9]*}} iter_args(%{{.*}} = %[[INIT]])
// KSPLIT-COUNT-3: nvgpu.mma.sync
// KSPLIT:   scf.if %[[FIRST]] {
// KSPLIT-COUNT-4: memref.store %{{.*}}, %[[C]][
// KSPLIT:   } else {
// KSPLIT:     %[[J:.*]] = arith.subi %[[S]], %c1
// KSPLIT-COUNT-4: memref.store %{{.*}}, %[[P]][%[[J]],
// KSPLIT: gpu.barrier
// KSPLIT: memref.load %[[C]]
// KSPLIT: memref.load %[[P1]]
// KSPLIT: memref.load %[[P2]]
// KSPLIT: memref.load %[[P3]]
// KSPLIT: arith.addf
// KSPLIT: arith.addf
// KSPLIT: arith.addf
// KSPLIT: memref.store %{{.*}}, %[[C]]
// NOSPLIT-LABEL: func.func @long_k(
// NOSPLIT-NOT: 3x16x8
// NOSPLIT: scf.for %{{.*}} = %c0{{[_0-9]*}} to %c64{{[_0-9]*}} step %c8
func.func @long_k(%a: memref<16x64xf32>, %b: memref<64x8xf32>, %out: memref<16x8xf32>) {
  %c1 = arith.constant 1 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %c = memref.alloca() : memref<16x8xf32>
    linalg.copy ins(%out : memref<16x8xf32>) outs(%c : memref<16x8xf32>)
    linalg.generic {indexing_maps = [#a, #b, #c],
                    iterator_types = ["parallel", "reduction", "parallel"]}
        ins(%a, %b : memref<16x64xf32>, memref<64x8xf32>) outs(%c : memref<16x8xf32>) {
    ^bb0(%x: f32, %y: f32, %o: f32):
      %m = arith.mulf %x, %y : f32
      %s = arith.addf %o, %m : f32
      linalg.yield %s : f32
    }
    linalg.copy ins(%c : memref<16x8xf32>) outs(%out : memref<16x8xf32>)
    gpu.terminator
  }
  return
}

// mma-n-tiles=0 (auto): per matmul, the most tiles per task (up to 4) that
// still give every warp a task: a 16 x 64 result (8 tiles) on 4 warps takes
// 2 tiles per task (4 tasks); on 16 warps, 1 (8 tasks, 8 warps idle).
// RUN: ttt-opt %s --ttt-distribute-to-threads="gpu-threads=128 pad-rows=0 mma-n-tiles=0" | FileCheck %s --check-prefix=AUTO4
// RUN: ttt-opt %s --ttt-distribute-to-threads="gpu-threads=512 pad-rows=0 mma-n-tiles=0" | FileCheck %s --check-prefix=AUTO16
// AUTO4-LABEL: func.func @wide(
// AUTO4: scf.for %{{.*}} = %{{.*}} to %c4{{[_0-9]*}} step %c4
// AUTO4: scf.for {{.*}} iter_args({{.*}}, {{.*}}) -> (vector<2x2xf32>, vector<2x2xf32>)
// AUTO4-COUNT-6: nvgpu.mma.sync
// AUTO4-NOT: nvgpu.mma.sync
// AUTO16-LABEL: func.func @wide(
// AUTO16: scf.for %{{.*}} = %{{.*}} to %c8{{[_0-9]*}} step %c16
// AUTO16: scf.for {{.*}} iter_args({{[^,]*}}) -> (vector<2x2xf32>)
// AUTO16-COUNT-3: nvgpu.mma.sync
// AUTO16-NOT: nvgpu.mma.sync
func.func @wide(%a: memref<16x8xf32>, %b: memref<8x64xf32>, %out: memref<16x64xf32>) {
  %c1 = arith.constant 1 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %c = memref.alloca() : memref<16x64xf32>
    linalg.copy ins(%out : memref<16x64xf32>) outs(%c : memref<16x64xf32>)
    linalg.generic {indexing_maps = [#a, #b, #c],
                    iterator_types = ["parallel", "reduction", "parallel"]}
        ins(%a, %b : memref<16x8xf32>, memref<8x64xf32>) outs(%c : memref<16x64xf32>) {
    ^bb0(%x: f32, %y: f32, %o: f32):
      %m = arith.mulf %x, %y : f32
      %s = arith.addf %o, %m : f32
      linalg.yield %s : f32
    }
    linalg.copy ins(%c : memref<16x64xf32>) outs(%out : memref<16x64xf32>)
    gpu.terminator
  }
  return
}
