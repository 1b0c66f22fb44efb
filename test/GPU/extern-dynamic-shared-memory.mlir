// RUN: ttt-opt %s --ttt-extern-dynamic-shared-memory | FileCheck %s
// The zero-length array in shared memory (address space 3) that stands for
// a launch's dynamic shared memory becomes an external declaration; other
// globals keep their linkage and value.

// CHECK-LABEL: gpu.module @kernels
// CHECK: llvm.mlir.global external @__dynamic_shmem__0() {addr_space = 3 : i32, alignment = 16 : i64} : !llvm.array<0 x i8>
// CHECK: llvm.mlir.global internal @static_smem() {addr_space = 3 : i32} : !llvm.array<4 x f32>
// CHECK: llvm.mlir.global internal @zero_global(dense<> : tensor<0xi8>) {addr_space = 1 : i32} : !llvm.array<0 x i8>
gpu.module @kernels {
  llvm.mlir.global internal @__dynamic_shmem__0() {addr_space = 3 : i32, alignment = 16 : i64} : !llvm.array<0 x i8>
  llvm.mlir.global internal @static_smem() {addr_space = 3 : i32} : !llvm.array<4 x f32>
  llvm.mlir.global internal @zero_global(dense<> : tensor<0xi8>) {addr_space = 1 : i32} : !llvm.array<0 x i8>
}
