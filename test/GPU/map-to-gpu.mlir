// RUN: ttt-opt %examples/ttt_linear.mlir --ttt-gpu-kernel="head-dim=16" | FileCheck %s
// RUN: ttt-opt %examples/ttt_linear.mlir --ttt-gpu-kernel="head-dim=16" --ttt-emulate-gpu | FileCheck %s --check-prefix=EMU

// The (batch, head) loops become a B x H grid of one-thread programs; the
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

// Emulation: the launch becomes loops over grid and block, the ids their
// induction variables.
// EMU-LABEL: func.func @ttt_linear(
// EMU-NOT: gpu.launch
// EMU: scf.for %{{.*}} = %c0{{.*}} to %c1
// EMU: scf.for %[[Y:.*]] = %c0{{.*}} to %[[H:.*]] step
// EMU: scf.for %[[X:.*]] = %c0{{.*}} to %[[B:.*]] step
