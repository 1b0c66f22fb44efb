// RUN: ttt-opt %s --ttt-thread-id-per-iteration | FileCheck %s
// In each chunk loop of a kernel (an outermost scf.for holding a barrier),
// the thread id is re-read at the top of the iteration by side-effecting
// inline PTX (which LLVM neither hoists nor merges), masked to the known
// block size where that is a power of two; uses outside the chunk loops
// and loops without barriers keep gpu.thread_id.

// CHECK-LABEL: gpu.func @k(
// CHECK: %[[TID:.*]] = gpu.thread_id x
// CHECK: memref.store %{{.*}}, %{{.*}}[%[[TID]]]
// CHECK: scf.for
// CHECK-NEXT: %[[ASM:.*]] = llvm.inline_asm has_side_effects "mov.u32 $0, %tid.x;", "=r"  : () -> i32
// CHECK-NEXT: %[[MASK:.*]] = arith.constant 63 : i32
// CHECK-NEXT: %[[AND:.*]] = arith.andi %[[ASM]], %[[MASK]] : i32
// CHECK-NEXT: %[[IDX:.*]] = arith.index_castui %[[AND]] : i32 to index
// CHECK: memref.store %{{.*}}, %{{.*}}[%[[IDX]]]
// CHECK: gpu.barrier
// The loop without a barrier is not a chunk loop.
// CHECK: scf.for
// CHECK-NOT: llvm.inline_asm
// CHECK: memref.store %{{.*}}, %{{.*}}[%[[TID]]]
// CHECK: gpu.return

// Block size unknown (or not a power of two): no mask.
// CHECK-LABEL: gpu.func @unknown(
// CHECK: scf.for
// CHECK-NEXT: %[[A2:.*]] = llvm.inline_asm has_side_effects "mov.u32 $0, %tid.x;"
// CHECK-NEXT: arith.index_castui %[[A2]] : i32 to index
module attributes {gpu.container_module} {
  gpu.module @m {
    gpu.func @k(%buf: memref<64xf32>, %n: index) kernel attributes {known_block_size = array<i32: 64, 1, 1>} {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %f = arith.constant 1.0 : f32
      %t = gpu.thread_id x
      memref.store %f, %buf[%t] : memref<64xf32>
      scf.for %i = %c0 to %n step %c1 {
        memref.store %f, %buf[%t] : memref<64xf32>
        gpu.barrier
      }
      scf.for %i = %c0 to %n step %c1 {
        memref.store %f, %buf[%t] : memref<64xf32>
      }
      gpu.return
    }
    gpu.func @unknown(%buf: memref<64xf32>, %n: index) kernel {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %f = arith.constant 1.0 : f32
      %t = gpu.thread_id x
      scf.for %i = %c0 to %n step %c1 {
        memref.store %f, %buf[%t] : memref<64xf32>
        gpu.barrier
      }
      gpu.return
    }
  }
}
