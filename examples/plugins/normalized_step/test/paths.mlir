// The plugin's rule through ttt-dual-form, which asks it through
// UpdateRuleOpInterface: exact per token (mini-batch 1) takes the
// sequential path, one token per chunk step; with `chunk_end` at mini-batch
// 8, the dual-form chunk with the state updated at its end. Each says so in
// a remark.

// RUN: %ttt-opt --load-dialect-plugin=%plugin %spec_dir/normalized_delta.mlir --ttt-to-chunked="head-dim=4" 2>&1 | FileCheck %s --check-prefix=SEQ
// SEQ: remark: 'nstep.normalized' has no dual form: token-by-token path, one token per chunk step, the gradient materialised
// SEQ: ttt.layer @normalized_delta attributes {chunk_size = 1 : i64, head_dim = 4 : i64, mini_batch = 1 : i64}
// SEQ: ttt.chunk_step readouts ["out"] algorithm "sequential"
// The gradient materialised: X^T (mask o G), then the rule's own ops.
// SEQ: %[[G:.*]] = ttt.matmul %arg1, %{{.*}} {transpose_lhs} : tensor<1x4xf32>, tensor<1x4xf32>
// SEQ: ttt.mul %[[G]], %[[G]] : tensor<4x4xf32>, tensor<4x4xf32>
// SEQ: %[[V:.*]] = ttt.add
// SEQ: ttt.sqrt %[[V]] : tensor<4x4xf32>
// SEQ: %[[W:.*]] = ttt.sub %arg4, %{{.*}} : tensor<4x4xf32>, tensor<4x4xf32>
// The readout reads the updated state; the moment is carried.
// SEQ: %[[OUT:.*]] = ttt.linear %arg0, %[[W]]
// SEQ: ttt.yield %[[OUT]], %[[W]], %[[V]]
// SEQ-NOT: nstep.normalized

// RUN: %ttt-opt --load-dialect-plugin=%plugin %spec_dir/normalized_delta_chunked.mlir --ttt-to-chunked="head-dim=4" 2>&1 | FileCheck %s --check-prefix=END
// END: remark: 'nstep.normalized' has no dual form: chunk-end path, state 'w' updated once per chunk of 8 tokens, the gradient materialised
// END: ttt.chunk_step readouts ["out"] algorithm "dual_form"
// END: ttt.matmul %arg1, %{{.*}} {transpose_lhs} : tensor<8x4xf32>, tensor<8x4xf32>
// Every token reads the state from before the chunk.
// END: %[[OUT:.*]] = ttt.linear %arg0, %arg4 : tensor<8x4xf32>, tensor<4x4xf32>
// END: ttt.yield %[[OUT]]

// tttc loads the same plugin (--plugin) for every stage and target.
// RUN: %tttc %spec_dir/normalized_delta.mlir --plugin=%plugin --emit=linalg --head-dim 16 2>/dev/null | FileCheck %s --check-prefix=LINALG
// LINALG: func.func @normalized_delta(
// LINALG: math.sqrt
// RUN: %tttc run %spec_dir/normalized_delta.mlir --plugin=%plugin --head-dim 16 --seq-len 5 --target=cuda-emu --gpu-threads=32 --check-races 2>&1 | FileCheck %s --check-prefix=EMU
// EMU: target cuda-emu (check-races=true gpu-threads=32)
// EMU: n_final    [2, 2, 16, 16]
// And its backward (the chunk step's ops have derivative rules).
// RUN: %tttc run %spec_dir/normalized_delta.mlir --plugin=%plugin --head-dim 16 --seq-len 5 --grad 2>&1 | FileCheck %s --check-prefix=GRAD
// GRAD: grad_w_init    [2, 16, 16]

// The plugin's pass (--load-pass-plugin) rewrites the rule's eps.
// RUN: %ttt-opt --load-dialect-plugin=%plugin --load-pass-plugin=%plugin %spec_dir/normalized_delta.mlir --pass-pipeline="builtin.module(nstep-set-eps{eps=0.5})" | FileCheck %s --check-prefix=PASS
// PASS: nstep.normalized %{{.*}}, %{{.*}}, %{{.*}} {eps = 5.000000e-01 : f32} : !ttt.mat<1, 1>
