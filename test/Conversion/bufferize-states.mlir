// RUN: ttt-opt %s --ttt-bufferize --canonicalize | FileCheck %s
// RUN: ttt-opt %s --ttt-bufferize=states-in-place=0 --canonicalize | FileCheck %s --check-prefix=COPY

// A chunk loop's next state is copied over the carried one (LayerToFunc):
// the elementwise op that computes it then writes the carried buffer
// itself (its tensor.empty init replaced by the copy's destination), and
// the copy and the per-chunk state buffer disappear.
#id = affine_map<(d0) -> (d0)>
// CHECK-LABEL: func.func @in_place(
// CHECK-SAME: %[[S:[^:]*]]: memref<4xf32>, %[[G:[^:]*]]: memref<4xf32>
// CHECK-NOT: memref.alloc
// CHECK: scf.for
// CHECK-NEXT: linalg.generic {{.*}} ins(%[[S]], %[[G]] : memref<4xf32>, memref<4xf32>) outs(%[[S]] : memref<4xf32>)
// CHECK-NOT: linalg.copy
// CHECK: return
// Without states-in-place (the CPU pipeline): a buffer for the next state
// and a copy over the carried one.
// COPY-LABEL: func.func @in_place(
// COPY: scf.for
// COPY: memref.alloc
// COPY: linalg.copy
func.func @in_place(%init: tensor<4xf32>, %g: tensor<4xf32>, %n: index) -> tensor<4xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %r = scf.for %i = %c0 to %n step %c1 iter_args(%s = %init) -> tensor<4xf32> {
    %e = tensor.empty() : tensor<4xf32>
    %u = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel"]}
        ins(%s, %g : tensor<4xf32>, tensor<4xf32>) outs(%e : tensor<4xf32>) {
    ^bb0(%x: f32, %y: f32, %o: f32):
      %d = arith.subf %x, %y : f32
      linalg.yield %d : f32
    } -> tensor<4xf32>
    %c = linalg.copy ins(%u : tensor<4xf32>) outs(%s : tensor<4xf32>) -> tensor<4xf32>
    scf.yield %c : tensor<4xf32>
  }
  return %r : tensor<4xf32>
}

// When the old state is read after the new one is computed, writing it in
// place would clobber what that read needs: the new state gets a buffer
// of its own and is copied over the carried one after the read.
// CHECK-LABEL: func.func @read_after(
// CHECK-SAME: %[[S:[^:]*]]: memref<4xf32>, %[[G:[^:]*]]: memref<4xf32>
// CHECK: scf.for
// CHECK: %[[NEW:.*]] = memref.alloc
// CHECK: linalg.generic {{.*}} ins(%[[S]], %[[G]] : memref<4xf32>, memref<4xf32>) outs(%[[NEW]] : memref<4xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[S]] : memref<4xf32>) outs(%[[G]] : memref<4xf32>)
// CHECK: linalg.copy ins(%[[NEW]] : memref<4xf32>) outs(%[[S]] : memref<4xf32>)
func.func @read_after(%init: tensor<4xf32>, %g: tensor<4xf32>, %n: index) -> (tensor<4xf32>, tensor<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %r:2 = scf.for %i = %c0 to %n step %c1 iter_args(%s = %init, %acc = %g) -> (tensor<4xf32>, tensor<4xf32>) {
    %e = tensor.empty() : tensor<4xf32>
    %u = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel"]}
        ins(%s, %acc : tensor<4xf32>, tensor<4xf32>) outs(%e : tensor<4xf32>) {
    ^bb0(%x: f32, %y: f32, %o: f32):
      %d = arith.subf %x, %y : f32
      linalg.yield %d : f32
    } -> tensor<4xf32>
    %w = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
        ins(%s : tensor<4xf32>) outs(%acc : tensor<4xf32>) {
    ^bb0(%x: f32, %o: f32):
      %d = arith.mulf %x, %x : f32
      linalg.yield %d : f32
    } -> tensor<4xf32>
    %c = linalg.copy ins(%u : tensor<4xf32>) outs(%s : tensor<4xf32>) -> tensor<4xf32>
    scf.yield %c, %w : tensor<4xf32>, tensor<4xf32>
  }
  return %r#0, %r#1 : tensor<4xf32>, tensor<4xf32>
}
