// RUN: ttt-opt %s --split-input-file --verify-diagnostics --ttt-chunk-backward

// A chunk-level op without a derivative rule is a located error.
ttt.layer @nogelu attributes {chunk_size = 4 : i64, head_dim = 4 : i64, mini_batch = 4 : i64} {
  %0 = ttt.input "k" : !ttt.vec<1>
  %2 = ttt.state "w" init "w_init" final "w_final" : !ttt.mat<1, 1>
  ttt.chunk_step readouts ["out"] algorithm "dual_form" {
  ^bb0(%k: tensor<4x4xf32>, %w: tensor<4x4xf32>, %valid: index):
    // expected-error @+1 {{'ttt.gelu' op has no derivative rule in ttt-chunk-backward}}
    %g = ttt.gelu %k : tensor<4x4xf32>
    ttt.yield %g, %w : tensor<4x4xf32>, tensor<4x4xf32>
  }
}

// -----

// expected-error @+1 {{ttt-chunk-backward: no ttt.chunk_step (run ttt-dual-form first)}}
module {
}
