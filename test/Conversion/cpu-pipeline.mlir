// RUN: ttt-opt %examples/ttt_mlp.mlir --ttt-cpu-pipeline="head-dim=16" | FileCheck %s
// RUN: ttt-opt %examples/ttt_linear.mlir --ttt-to-linalg="head-dim=16" --ttt-bufferize | FileCheck %s --check-prefix=BUF
// RUN: ttt-opt %examples/ttt_linear.mlir --ttt-to-linalg="head-dim=16" --ttt-linalg-to-llvm | FileCheck %s --check-prefix=TOLLVM

// The whole CPU pipeline ends in the LLVM dialect with a C-interface entry
// point; outputs are written in place (no results), and no runtime library
// call (memrefCopy) is needed.
// CHECK: llvm.func @ttt_mlp(
// CHECK-NOT: llvm.call @memrefCopy
// CHECK: llvm.func @_mlir_ciface_ttt_mlp(%{{[^)]*}}) attributes {llvm.emit_c_interface}
// CHECK-NOT: llvm.func @memrefCopy

// Bufferized in place: the function returns nothing and writes its output
// arguments; copies are linalg.copy.
// BUF: func.func @ttt_linear(%{{.*}}: memref<?x?x?x16xf32>, {{.*}}, %{{.*}}: memref<?x?x16xf32>) attributes {llvm.emit_c_interface} {
// BUF-NOT: memref.copy
// BUF: linalg.copy
// BUF: return{{$}}

// ttt-linalg-to-llvm alone, after ttt-to-linalg: the layer and its C
// interface as LLVM functions, nothing of linalg, scf or memref left.
// TOLLVM-NOT: linalg.
// TOLLVM: llvm.func @ttt_linear(
// TOLLVM-NOT: {{linalg\.|scf\.|memref\.}}
// TOLLVM: llvm.func @_mlir_ciface_ttt_linear(
