// RUN: ttt-opt %examples/linear_attention.mlir --ttt-to-linalg="head-dim=64 column-blocks=4" | FileCheck %s
// RUN: ttt-opt %examples/infini_attention.mlir --ttt-to-linalg="head-dim=64 column-blocks=4" | FileCheck %s --check-prefix=INFINI
// RUN: ttt-opt %examples/linear_attention.mlir --ttt-gpu-kernel="head-dim=64 column-blocks=4" | FileCheck %s --check-prefix=GRID
// RUN: not ttt-opt %examples/ttt_linear.mlir --ttt-to-linalg="head-dim=64 column-blocks=4" -o /dev/null 2>&1 | FileCheck %s --check-prefix=LN
// RUN: not ttt-opt %examples/ttt_mlp.mlir --ttt-to-linalg="head-dim=64 column-blocks=2" -o /dev/null 2>&1 | FileCheck %s --check-prefix=MLP
// RUN: not ttt-opt %examples/delta.mlir --ttt-to-linalg="head-dim=64 column-blocks=3" -o /dev/null 2>&1 | FileCheck %s --check-prefix=MULT
// RUN: ttt-opt %examples/ttt_linear.mlir --ttt-to-linalg="head-dim=64" --ttt-column-blocks="column-blocks=4 required=false" 2>&1 | FileCheck %s --check-prefix=REMARK

// Linear attention: W (64 x 64) is independent across its columns (q W,
// k^T v), so each of 4 programs per (b, h) owns 16 of them: the state is
// 64 x 16, v and the output are read and written at the block's offset,
// q and k whole.
// CHECK-LABEL: func.func @linear_attention(
// CHECK: scf.for %[[B:.*]] = %c0 to
// CHECK: scf.for %[[H:.*]] = %c0 to
// CHECK: scf.for %[[CB:.*]] = %c0 to %c4 step %c1
// CHECK: %[[OFF:.*]] = arith.muli %[[CB]], %c16
// CHECK: tensor.extract_slice %arg3[%{{.*}}, %[[H]], 0, %[[OFF]]] [1, 1, 64, 16]
// CHECK: scf.for {{.*}} -> (tensor<64x16xf32>, tensor<?x?x?x64xf32>)
// CHECK: tensor.extract_slice %arg0[%[[B]], %{{.*}}, %[[H]], 0] [1, %{{.*}}, 1, 64]
// CHECK: tensor.extract_slice %arg1[%[[B]], %{{.*}}, %[[H]], 0] [1, %{{.*}}, 1, 64]
// CHECK: tensor.extract_slice %arg2[%[[B]], %{{.*}}, %[[H]], %[[OFF]]] [1, %{{.*}}, 1, 16]
// CHECK: linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<16x64xf32>, tensor<64x16xf32>) outs(%{{.*}} : tensor<16x16xf32>)
// CHECK: tensor.insert_slice %{{.*}} into %{{.*}}[%[[B]], %{{.*}}, %[[H]], %[[OFF]]] [1, %{{.*}}, 1, 16]
// CHECK: tensor.insert_slice %{{.*}} into %{{.*}}[%[[B]], %[[H]], 0, %[[OFF]]] [1, 1, 64, 16]
// CHECK: {ttt.column_blocks = 4 : i64}

// Infini-attention: the memory M splits by columns; its normaliser z (one
// entry per key dimension) carries none of them: every block computes it,
// block 0 alone writes z_final.
// INFINI-LABEL: func.func @infini_attention(
// INFINI: scf.for %[[CB:.*]] = %c0 to %c4 step %c1
// INFINI: %[[FIRST:.*]] = arith.cmpi eq, %[[CB]], %c0
// INFINI: scf.for {{.*}} -> (tensor<64x16xf32>, tensor<1x64xf32>, tensor<?x?x?x64xf32>)
// INFINI: scf.if %[[FIRST]] -> (tensor<?x?x64xf32>)
// INFINI-NEXT: tensor.insert_slice %{{.*}} into %{{.*}}[%{{.*}}, %{{.*}}, 0] [1, 1, 64]

// The blocks are the grid's z.
// GRID: gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %c4{{.*}}) threads(%{{.*}}) in (%{{.*}} = %c512

// TTT-Linear: the layer norm reduces over the state's columns, and the
// residual q + y ties them to the input dimension that x W reduces over.
// LN: ttt_linear.mlir:8:1: error: cannot split the layer's state into 4 column blocks: its columns (the last dimension of a state), or a dimension computed with them, are reduced over or mixed (notes)
// LN-DAG: ttt_linear.mlir:27:10: note: 'linalg.matmul' reduces over it
// LN-DAG: ttt_linear.mlir:29:10: note: 'linalg.generic' reduces over it

// TTT-MLP: the second layer reduces over the hidden units.
// MLP: error: cannot split the layer's state into 2 column blocks
// MLP: note: 'linalg.matmul' reduces over it

// MULT: error: cannot split the layer's state into 3 column blocks: its 64 columns are not a multiple of 3

// required=false: a remark, and the layer is left whole.
// REMARK: remark: cannot split the layer's state into 4 column blocks
// REMARK-NOT: ttt.column_blocks
// REMARK: func.func @ttt_linear(
// REMARK-NOT: ttt.column_blocks
