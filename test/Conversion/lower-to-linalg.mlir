// RUN: ttt-opt %examples/ttt_linear.mlir --ttt-to-linalg="head-dim=16 mini-batch=8" | FileCheck %s
// RUN: ttt-opt %examples/ttt_linear.mlir --ttt-to-chunked="head-dim=16 mini-batch=8" --ttt-lower-layer-to-func | FileCheck %s --check-prefix=LOOPS
// RUN: ttt-opt %examples/titans_linear.mlir --ttt-to-chunked="head-dim=16 mini-batch=8" --ttt-lower-layer-to-func | FileCheck %s --check-prefix=OPTIONAL
// RUN: ttt-opt %examples/ttt_linear.mlir --ttt-to-chunked="head-dim=16 mini-batch=8" --ttt-lower-layer-to-func --convert-ttt-to-linalg | FileCheck %s

// The layer becomes a function of its inputs (declaration order) and output
// destinations, dynamic in B, T, H, with loops over b, h and chunks.
// LOOPS-LABEL: func.func @ttt_linear(
// LOOPS-SAME: %{{.*}}: tensor<?x?x?x16xf32>, %{{.*}}: tensor<?x?x?x16xf32>, %{{.*}}: tensor<?x?x?x16xf32>, %{{.*}}: tensor<?x?x?xf32>, %[[SCALE:.*]]: tensor<?xf32>, %{{.*}}: tensor<?x16xf32>, %{{.*}}: tensor<?x16xf32>, %[[WI:.*]]: tensor<?x?x16x16xf32>, %{{.*}}: tensor<?x?x16xf32>, %[[OUT:.*]]: tensor<?x?x?x16xf32>, %{{.*}}: tensor<?x?x16x16xf32>, %{{.*}}: tensor<?x?x16xf32>)
// LOOPS-SAME: -> (tensor<?x?x?x16xf32>, tensor<?x?x16x16xf32>, tensor<?x?x16xf32>)
// LOOPS-SAME: attributes {llvm.emit_c_interface}
// LOOPS: %[[NCHUNK:.*]] = arith.ceildivsi %{{.*}}, %{{.*}} : index
// LOOPS: scf.for %[[B:.*]] = %{{.*}} to %{{.*}} step
// LOOPS: scf.for %[[H:.*]] = %{{.*}} to %{{.*}} step
// the position input: given (size C) or the spec's default 1/(i+1), picked
// per element by one op (no second buffer)
// LOOPS: %[[GIVEN:.*]] = arith.cmpi ne
// LOOPS: ttt.position : tensor<8x1xf32>
// LOOPS: %[[DFLT:.*]] = ttt.div
// LOOPS: linalg.generic {{.*}} ins(%[[DFLT]] : tensor<8x1xf32>) outs(%{{.*}} : tensor<8x1xf32>)
// LOOPS: ^bb0(%[[D:.*]]: f32, %{{.*}}: f32):
// LOOPS: %[[I:.*]] = linalg.index 0
// LOOPS: scf.if %[[GIVEN]] -> (f32)
// LOOPS: tensor.extract %[[SCALE]][%[[I]]]
// LOOPS: } else {
// LOOPS: scf.yield %[[D]]
// shared [1, H, ...] or per-batch [B, H, ...] initial state
// LOOPS: %[[SHARED:.*]] = arith.cmpi eq
// LOOPS: %[[ROW:.*]] = arith.select %[[SHARED]], %{{.*}}, %[[B]]
// LOOPS: tensor.extract_slice %[[WI]][%[[ROW]], %[[H]], 0, 0] [1, 1, 16, 16]
// LOOPS: scf.for %{{.*}} = %{{.*}} to %[[NCHUNK]] step %{{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (tensor<16x16xf32>, tensor<1x16xf32>, tensor<?x?x?x16xf32>)
// the last chunk is shorter: valid = min(C, T - t0) rows, zero-padded
// LOOPS: %[[VALID:.*]] = arith.minsi
// LOOPS: tensor.extract_slice %{{.*}}[%[[B]], %{{.*}}, %[[H]], 0] [1, %[[VALID]], 1, 16]
// LOOPS: tensor.insert_slice %{{.*}} into %{{.*}}[0, 0] [%[[VALID]], 16] [1, 1] : tensor<?x16xf32> into tensor<8x16xf32>
// LOOPS: ttt.causal_mask
// the next states are written over the carried ones
// LOOPS: linalg.copy ins(%{{.*}} : tensor<16x16xf32>) outs(%{{.*}} : tensor<16x16xf32>)
// only the real rows are written back
// LOOPS: tensor.extract_slice %{{.*}}[0, 0] [%[[VALID]], 16] [1, 1] : tensor<8x16xf32> to tensor<?x16xf32>
// LOOPS: tensor.insert_slice %{{.*}} into %{{.*}}[%[[B]], %{{.*}}, %[[H]], 0] [1, %[[VALID]], 1, 16]
// LOOPS: scf.yield
// final states into [B, H, ...]
// LOOPS: tensor.insert_slice %{{.*}} into %{{.*}}[%[[B]], %[[H]], 0, 0] [1, 1, 16, 16]
// LOOPS: return

// After convert-ttt-to-linalg (alone, or in ttt-to-linalg) no ttt op is left; chunk matmuls are named
// linalg.matmul ops on chunk-sized tensors (the causal mask a generic).
// CHECK-LABEL: func.func @ttt_linear(
// CHECK-NOT: ttt.
// CHECK: linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<8x16xf32>, tensor<16x16xf32>) outs(%{{.*}} : tensor<8x16xf32>)
// CHECK: linalg.generic
// CHECK: linalg.index 0
// CHECK: linalg.index 1
// CHECK: arith.cmpi ule
// CHECK: linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<8x8xf32>, tensor<8x16xf32>) outs(%{{.*}} : tensor<8x16xf32>)
// CHECK: linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<16x8xf32>, tensor<8x16xf32>) outs(%{{.*}} : tensor<16x16xf32>)
// CHECK-NOT: ttt.
// CHECK: return

// An optional initial state (titans' momentum S) omitted by the caller (its
// dimension 0 of size 0) is zeros: one op writes zeros or the caller's
// element into the state (no zero tensor of its own joined by scf.if).
// OPTIONAL-LABEL: func.func @titans_linear(
// OPTIONAL-SAME: %[[SI:arg[0-9]+]]: tensor<?x?x16x16xf32>, %{{arg[0-9]+}}: tensor<?x?x?x16xf32>
// OPTIONAL: %[[DIM:.*]] = tensor.dim %[[SI]], %{{.*}}
// OPTIONAL: %[[ABSENT:.*]] = arith.cmpi eq, %[[DIM]], %c0
// OPTIONAL: %[[S0:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<16x16xf32>)
// OPTIONAL: %[[I:.*]] = linalg.index 0
// OPTIONAL: %[[J:.*]] = linalg.index 1
// OPTIONAL: scf.if %[[ABSENT]] -> (f32)
// OPTIONAL: } else {
// OPTIONAL: tensor.extract %[[SI]][%{{.*}}, %{{.*}}, %[[I]], %[[J]]]
// OPTIONAL: scf.for {{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %[[S0]],
