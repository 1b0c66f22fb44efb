// RUN: ttt-opt %s --ttt-occupancy-hint | FileCheck %s
// RUN: ttt-opt %s --ttt-occupancy-hint="min-programs=3 shared-kb-per-sm=164" | FileCheck %s --check-prefix=THREE
// RUN: ttt-opt %s --ttt-occupancy-hint="min-programs=1" | FileCheck %s --check-prefix=NONE
// A kernel launched with constant threads and shared memory gets
// nvvm.minctasm = min-programs where that many blocks fit on one SM by
// threads and shared memory (each block also reserves 1 KB); kernels that
// cannot share an SM, or whose launch sizes are not constants, get nothing.

// 256 threads, 60 KB: 2 fit in 228 KB; 3 x 61 KB do not fit in 164 KB.
// CHECK-LABEL: gpu.func @small
// CHECK-SAME: nvvm.minctasm = 2 : i32
// 256 threads, 120000 bytes: 2 x 121024 bytes exceed 228 KB.
// CHECK-LABEL: gpu.func @big
// CHECK-NOT: nvvm.minctasm
// CHECK-LABEL: gpu.func @dynamic
// CHECK-NOT: nvvm.minctasm
// CHECK-LABEL: gpu.func @tiny
// CHECK-SAME: nvvm.minctasm = 2 : i32

// THREE-LABEL: gpu.func @small
// THREE-NOT: nvvm.minctasm
// THREE-LABEL: gpu.func @tiny
// THREE-SAME: nvvm.minctasm = 3 : i32

// NONE-NOT: nvvm.minctasm
module attributes {gpu.container_module} {
  gpu.module @k {
    gpu.func @small() kernel { gpu.return }
    gpu.func @big() kernel { gpu.return }
    gpu.func @dynamic() kernel { gpu.return }
    gpu.func @tiny() kernel { gpu.return }
  }
  func.func @host(%n: index) {
    %c1 = arith.constant 1 : index
    %c256 = arith.constant 256 : index
    %s60k = arith.constant 61440 : i32
    %s120k = arith.constant 120000 : i32
    %s1k = arith.constant 1024 : i32
    gpu.launch_func @k::@small blocks in (%c1, %c1, %c1) threads in (%c256, %c1, %c1)
        dynamic_shared_memory_size %s60k
    gpu.launch_func @k::@big blocks in (%c1, %c1, %c1) threads in (%c256, %c1, %c1)
        dynamic_shared_memory_size %s120k
    gpu.launch_func @k::@dynamic blocks in (%c1, %c1, %c1) threads in (%n, %c1, %c1)
        dynamic_shared_memory_size %s1k
    gpu.launch_func @k::@tiny blocks in (%c1, %c1, %c1) threads in (%c256, %c1, %c1)
        dynamic_shared_memory_size %s1k
    return
  }
}
