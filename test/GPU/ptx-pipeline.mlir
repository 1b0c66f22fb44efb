// RUN: ttt-opt %examples/ttt_mlp.mlir --ttt-ptx-pipeline="head-dim=32 arch=sm_90a" | FileCheck %s
// REQUIRES: ptxas

// The named PTX pipeline: the host function launches the outlined kernel
// (512 threads, dynamic shared memory), whose PTX, with libdevice linked
// for tanh, is in a gpu.binary.
// CHECK: gpu.launch_func {{ *}}@ttt_mlp_kernel::@ttt_mlp_kernel blocks in ({{.*}}) threads in (%c512, %c1, %c1) {{ *}}dynamic_shared_memory_size
// CHECK: gpu.binary @ttt_mlp_kernel {{ *}}[#gpu.object<#nvvm.target<O = 3, chip = "sm_90a", features = "+ptx80", link = ["{{.*}}libdevice.10.bc"]>
// CHECK-SAME: .visible .entry ttt_mlp_kernel(
// CHECK-NOT: __nv_tanhf
