// RUN: ttt-opt %s --ttt-fuse-elementwise | FileCheck %s

// Elementwise fusion as linalg's, but a producer outside a loop stays out of
// it: fused into the loop's consumer it would be recomputed every iteration.

#id = affine_map<(d0) -> (d0)>

// CHECK-LABEL: func.func @invariant_producer
// CHECK: %[[P:.*]] = linalg.generic
// CHECK: math.exp
// CHECK: scf.for
// CHECK: linalg.generic {{.*}} ins(%[[P]], %{{.*}} : tensor<16xf32>, tensor<16xf32>)
// CHECK-NOT: math.exp
// CHECK: arith.mulf
// CHECK-NOT: math.exp
// CHECK: scf.yield
func.func @invariant_producer(%x: tensor<16xf32>, %acc: tensor<16xf32>, %n: index) -> tensor<16xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %e = tensor.empty() : tensor<16xf32>
  %p = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%x : tensor<16xf32>) outs(%e : tensor<16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %y = math.exp %a : f32
    linalg.yield %y : f32
  } -> tensor<16xf32>
  %r = scf.for %i = %c0 to %n step %c1 iter_args(%s = %acc) -> tensor<16xf32> {
    %q = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel"]}
        ins(%p, %s : tensor<16xf32>, tensor<16xf32>) outs(%e : tensor<16xf32>) {
    ^bb0(%a: f32, %b: f32, %o: f32):
      %y = arith.mulf %a, %b : f32
      linalg.yield %y : f32
    } -> tensor<16xf32>
    scf.yield %q : tensor<16xf32>
  }
  return %r : tensor<16xf32>
}

// In the same loop body, the producer fuses into its consumer.
// CHECK-LABEL: func.func @same_body
// CHECK: scf.for
// CHECK: linalg.generic
// CHECK: math.exp
// CHECK: arith.mulf
// CHECK-NOT: linalg.generic
// CHECK: scf.yield
func.func @same_body(%x: tensor<16xf32>, %acc: tensor<16xf32>, %n: index) -> tensor<16xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %e = tensor.empty() : tensor<16xf32>
  %r = scf.for %i = %c0 to %n step %c1 iter_args(%s = %acc) -> tensor<16xf32> {
    %p = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
        ins(%x : tensor<16xf32>) outs(%e : tensor<16xf32>) {
    ^bb0(%a: f32, %o: f32):
      %y = math.exp %a : f32
      linalg.yield %y : f32
    } -> tensor<16xf32>
    %q = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel"]}
        ins(%p, %s : tensor<16xf32>, tensor<16xf32>) outs(%e : tensor<16xf32>) {
    ^bb0(%a: f32, %b: f32, %o: f32):
      %y = arith.mulf %a, %b : f32
      linalg.yield %y : f32
    } -> tensor<16xf32>
    scf.yield %q : tensor<16xf32>
  }
  return %r : tensor<16xf32>
}
