// RUN: ttt-opt %s --split-input-file --ttt-map-to-gpu --verify-diagnostics | FileCheck %s
// RUN: ttt-opt %s --split-input-file --ttt-map-to-gpu="fault=short-grid" --verify-diagnostics | FileCheck %s --check-prefix=SHORT
// ttt-map-to-gpu on hand-written bufferized layer functions: the loops over
// batches and heads (and a column-block loop) become the grid of one
// gpu.launch of one-thread programs; what the kernel uses from the host
// (sizes, constants) is recomputed inside, so its operands are the buffers.

// CHECK-LABEL: func.func @layer(
// CHECK-SAME: %[[X:.*]]: memref<?x?xf32>
// CHECK-DAG: %[[B:.*]] = memref.dim %[[X]], %c0
// CHECK-DAG: %[[H:.*]] = memref.dim %[[X]], %c1
// CHECK: gpu.launch blocks(%[[BX:.*]], %[[BY:.*]], %{{.*}}) in (%{{.*}} = %[[B]], %{{.*}} = %[[H]], %{{.*}} = %c1{{.*}}) threads(%{{.*}}) in (%{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}})
// CHECK: %[[TWO:.*]] = arith.constant 2.0
// CHECK: %[[V:.*]] = memref.load %[[X]][%[[BX]], %[[BY]]]
// CHECK: arith.mulf %[[V]], %[[TWO]]
// CHECK: memref.store %{{.*}}, %[[X]][%[[BX]], %[[BY]]]
// CHECK: gpu.terminator
// CHECK-NOT: scf.for
// CHECK: return
// SHORT-LABEL: func.func @layer(
// SHORT: %[[B:.*]] = memref.dim
// SHORT: %[[B1:.*]] = arith.subi %[[B]], %c1
// SHORT: gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %[[B1]],
func.func @layer(%x: memref<?x?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %two = arith.constant 2.0 : f32
  %B = memref.dim %x, %c0 : memref<?x?xf32>
  %H = memref.dim %x, %c1 : memref<?x?xf32>
  scf.for %b = %c0 to %B step %c1 {
    scf.for %h = %c0 to %H step %c1 {
      %v = memref.load %x[%b, %h] : memref<?x?xf32>
      %w = arith.mulf %v, %two : f32
      memref.store %w, %x[%b, %h] : memref<?x?xf32>
    }
  }
  return
}

// -----

// A column-block loop (ttt-column-blocks) is the grid's z; another loop in
// the head loop stays inside the program.
// CHECK-LABEL: func.func @columns(
// CHECK: gpu.launch blocks(%[[BX:.*]], %[[BY:.*]], %[[BZ:.*]]) in (%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %c4{{.*}})
// CHECK: memref.store %{{.*}}, %{{.*}}[%[[BX]], %[[BY]], %[[BZ]]]
// CHECK: gpu.terminator
// CHECK-LABEL: func.func @inner_loop(
// CHECK: gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %c1{{.*}})
// CHECK: scf.for
// CHECK: gpu.terminator
func.func @columns(%x: memref<2x3x4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %c4 = arith.constant 4 : index
  %f = arith.constant 1.0 : f32
  scf.for %b = %c0 to %c2 step %c1 {
    scf.for %h = %c0 to %c3 step %c1 {
      scf.for %c = %c0 to %c4 step %c1 {
        memref.store %f, %x[%b, %h, %c] : memref<2x3x4xf32>
      } {ttt.column_blocks}
    }
  }
  return
}
func.func @inner_loop(%x: memref<2x3x4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %c4 = arith.constant 4 : index
  %f = arith.constant 1.0 : f32
  scf.for %b = %c0 to %c2 step %c1 {
    scf.for %h = %c0 to %c3 step %c1 {
      scf.for %c = %c0 to %c4 step %c1 {
        memref.store %f, %x[%b, %h, %c] : memref<2x3x4xf32>
      }
    }
  }
  return
}

// -----

// Not a bufferized layer: the head loop carries a value.
// expected-error @below {{ttt-map-to-gpu expects a bufferized layer function: loops over batches and heads without loop-carried values}}
func.func @carried(%x: memref<2x3xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %z = arith.constant 0.0 : f32
  scf.for %b = %c0 to %c2 step %c1 {
    %s = scf.for %h = %c0 to %c3 step %c1 iter_args(%a = %z) -> (f32) {
      %v = memref.load %x[%b, %h] : memref<2x3xf32>
      %n = arith.addf %a, %v : f32
      scf.yield %n : f32
    }
  }
  return %z : f32
}

// -----

// expected-error @below {{ttt-map-to-gpu expects a bufferized layer function}}
func.func @no_loops(%x: memref<2xf32>) {
  return
}
