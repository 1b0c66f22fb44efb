// RUN: ttt-opt %examples/ttt_linear.mlir --ttt-gpu-kernel="head-dim=16 gpu-threads=1" | FileCheck %s
// RUN: ttt-opt %examples/ttt_linear.mlir --ttt-gpu-kernel="head-dim=16 gpu-threads=1" --ttt-emulate-gpu | FileCheck %s --check-prefix=EMU
// RUN: ttt-opt %examples/ttt_linear.mlir --ttt-gpu-kernel="head-dim=16" | FileCheck %s --check-prefix=BLOCK
// RUN: ttt-opt %examples/ttt_linear.mlir --ttt-gpu-kernel="head-dim=16" --ttt-emulate-gpu | FileCheck %s --check-prefix=FIBERS
// RUN: ttt-opt %examples/ttt_linear.mlir --ttt-cuda-emu-pipeline="head-dim=16" | FileCheck %s --check-prefix=EMUPIPE
// RUN: ttt-opt %examples/ttt_linear.mlir --ttt-cuda-emu-pipeline="head-dim=16" | not grep "gpu\."

// One-thread programs: the (batch, head) loops become a B x H grid; the
// chunk loop runs inside with the states and chunk buffers on the program's
// stack (hoisted out of the chunk loop).
// CHECK-LABEL: func.func @ttt_linear(
// CHECK: %[[B:.*]] = memref.dim %arg0, %c0
// CHECK: %[[H:.*]] = memref.dim %arg0, %c2
// CHECK: gpu.launch blocks(%[[BX:.*]], %[[BY:.*]], %{{.*}}) in (%{{.*}} = %[[B]], %{{.*}} = %[[H]], %{{.*}} = %c1{{.*}}) threads(%{{.*}}) in (%{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}})
// CHECK: memref.alloca() {{.*}} : memref<16x16xf32>
// CHECK: scf.for
// CHECK-NOT: memref.alloc(
// CHECK: gpu.terminator

// Emulation of one-thread programs without barriers: loops over the grid,
// the block ids their induction variables.
// EMU-LABEL: func.func @ttt_linear(
// EMU-NOT: gpu.launch
// EMU: scf.for %{{.*}} = %c0{{.*}} to %c1
// EMU: scf.for %[[Y:.*]] = %c0{{.*}} to %[[H:.*]] step
// EMU: scf.for %[[X:.*]] = %c0{{.*}} to %[[B:.*]] step

// A block of 512 threads per program: the buffers are views of dynamic
// shared memory; linalg ops run point k * 512 + tid in round k (a 16x16 op:
// one round, guarded, its loop folded away); barriers inside the chunk loop.
// BLOCK-LABEL: func.func @ttt_linear(
// BLOCK: gpu.launch blocks({{.*}}) threads(%[[TX:[^,]*]], {{.*}}) in (%{{[^ ]*}} = %c512, {{.*}}) dynamic_shared_memory_size
// BLOCK: %[[SMEM:.*]] = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
// BLOCK: memref.view %[[SMEM]][%{{.*}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<16x20xf32, #gpu.address_space<workgroup>>
// BLOCK: %[[IN:.*]] = arith.cmpi ult, %[[TX]], %c256 : index
// BLOCK: scf.if %[[IN]] {
// BLOCK: arith.remui %[[TX]], %c16
// BLOCK: scf.for
// BLOCK: gpu.barrier
// BLOCK: } {ttt.distributed}
// BLOCK: gpu.terminator
// BLOCK-NOT: memref.alloca() {{.*}} : memref<16x16xf32>

// Emulation of thread blocks: the kernel is outlined and run by the
// emulation runtime, one fiber per thread, barriers switching threads.
// FIBERS-LABEL: func.func @ttt_linear(
// FIBERS: %[[SMEM:.*]] = memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<?xi8>
// FIBERS: %[[F:.*]] = constant @__tttc_emu_kernel_0
// FIBERS: call @tttc_emu_launch(
// FIBERS: func.func private @__tttc_emu_kernel_0(%{{.*}}: !llvm.ptr, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index)
// FIBERS-NOT: gpu.
// FIBERS: call @tttc_emu_barrier()
// FIBERS: func.func private @tttc_emu_barrier()

// The whole emulation pipeline (target cuda-emu): the kernel an LLVM
// function the host's entry hands to the emulator's launch, with barriers as
// emulator calls; no GPU op is left.
// EMUPIPE-DAG: llvm.func @__tttc_emu_kernel_0(
// EMUPIPE-DAG: llvm.func @tttc_emu_barrier(
// EMUPIPE-DAG: llvm.func @tttc_emu_launch(
// EMUPIPE-DAG: llvm.func @ttt_linear(
// EMUPIPE-DAG: llvm.call @tttc_emu_launch(
// EMUPIPE-DAG: llvm.call @tttc_emu_barrier(
