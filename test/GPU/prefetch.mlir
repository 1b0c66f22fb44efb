// RUN: ttt-opt %s --ttt-prefetch-next-chunk | FileCheck %s
// RUN: ttt-opt %s --ttt-prefetch-next-chunk=prefetch=1 | FileCheck %s --check-prefix=AHEAD1
// RUN: ttt-opt %s --ttt-prefetch-next-chunk=prefetch=9 | FileCheck %s --check-prefix=TOP
// RUN: not ttt-opt %s --ttt-prefetch-next-chunk=prefetch=0 2>&1 | FileCheck %s --check-prefix=BAD

// A chunk loop as ttt-distribute-to-threads leaves it: a round loop copies
// the chunk's rows of an input into shared memory (rows past the end read
// as zeros), then the step computes and writes an output.
// CHECK-LABEL: func.func @chunks
// The first chunk's loads, before the loop (guarded by 0 < chunks):
// CHECK: %[[FIRST:.*]]:2 = scf.if %{{.*}} -> (f32, f32) {
// CHECK: memref.subview %arg0
// CHECK-COUNT-2: memref.load %{{.*}} : memref<?x64xf32, strided<[64, 1], offset: ?>>
// CHECK: } else {
// CHECK: scf.for %[[C:.*]] = %c0 to %[[N:.*]] step %c1 iter_args(%[[X0:.*]] = %[[FIRST]]#0, %[[X1:.*]] = %[[FIRST]]#1) -> (f32, f32) {
// The step stores what the previous one loaded (the round loop unrolled):
// CHECK: memref.store %[[X0]], %[[BUF:.*]][
// CHECK: memref.store %[[X1]], %[[BUF]][
// The loop-invariant load and the load of memory the launch writes stay:
// CHECK: memref.load %arg1
// CHECK: memref.load %arg2
// Two barriers before the end (the default): the next chunk's loads, under
// next < chunks and the same row guard.
// CHECK: %[[NEXT:.*]] = arith.addi %[[C]], %c1
// CHECK: %[[IN:.*]] = arith.cmpi slt, %[[NEXT]], %[[N]]
// CHECK: %[[LOADED:.*]]:2 = scf.if %[[IN]] -> (f32, f32) {
// CHECK: arith.muli %[[NEXT]], %c16
// CHECK: memref.subview %arg0
// CHECK: scf.if %{{.*}} -> (f32) {
// CHECK: memref.load %{{.*}} : memref<?x64xf32, strided<[64, 1], offset: ?>>
// CHECK: gpu.barrier
// CHECK: gpu.barrier
// CHECK: scf.yield %[[LOADED]]#0, %[[LOADED]]#1 : f32, f32

// One barrier before the end: between the step's two barriers.
// AHEAD1: scf.for %[[C:.*]] = %c0 to
// AHEAD1: gpu.barrier
// AHEAD1: arith.addi %[[C]], %c1
// AHEAD1: gpu.barrier
// AHEAD1-NOT: gpu.barrier
// AHEAD1: scf.yield

// More barriers ahead than the step has: at its top.
// TOP: scf.for %[[C:.*]] = %c0 to {{.*}} iter_args
// TOP-NEXT: arith.addi %[[C]], %c1

// BAD: error: ttt-prefetch-next-chunk: prefetch must be at least 1
func.func @chunks(%in: memref<?x64xf32>, %w: memref<64xf32>, %out: memref<?x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c16 = arith.constant 16 : index
  %c32 = arith.constant 32 : index
  %c64 = arith.constant 64 : index
  %zero = arith.constant 0.0 : f32
  %t = memref.dim %in, %c0 : memref<?x64xf32>
  %chunks = arith.ceildivui %t, %c16 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c64, %sy = %c1, %sz = %c1) {
    %buf = memref.alloc() : memref<16x64xf32, #gpu.address_space<workgroup>>
    %row = arith.divui %tx, %c32 : index
    %lane = arith.remui %tx, %c32 : index
    scf.for %c = %c0 to %chunks step %c1 {
      %base = arith.muli %c, %c16 : index
      %left = arith.subi %t, %base : index
      %rows = arith.minsi %left, %c16 : index
      %chunk = memref.subview %in[%base, 0] [%rows, 64] [1, 1]
          : memref<?x64xf32> to memref<?x64xf32, strided<[64, 1], offset: ?>>
      scf.for %r = %c0 to %c2 step %c1 {
        %off = arith.muli %r, %c32 : index
        %col = arith.addi %lane, %off : index
        %ok = arith.cmpi ult, %row, %rows : index
        %v = scf.if %ok -> (f32) {
          %x = memref.load %chunk[%row, %col] : memref<?x64xf32, strided<[64, 1], offset: ?>>
          scf.yield %x : f32
        } else {
          scf.yield %zero : f32
        }
        memref.store %v, %buf[%row, %col] : memref<16x64xf32, #gpu.address_space<workgroup>>
      }
      %s = memref.load %w[%lane] : memref<64xf32>
      %prev = memref.load %out[%base, %lane] : memref<?x64xf32>
      gpu.barrier
      %y = memref.load %buf[%row, %lane] : memref<16x64xf32, #gpu.address_space<workgroup>>
      %p = arith.mulf %y, %s : f32
      %q = arith.addf %p, %prev : f32
      memref.store %q, %buf[%row, %lane] : memref<16x64xf32, #gpu.address_space<workgroup>>
      gpu.barrier
      %ok = arith.cmpi ult, %row, %rows : index
      scf.if %ok {
        %z = memref.load %buf[%row, %lane] : memref<16x64xf32, #gpu.address_space<workgroup>>
        %tok = arith.addi %base, %row : index
        memref.store %z, %out[%tok, %lane] : memref<?x64xf32>
      }
    }
    gpu.terminator
  }
  return
}
