// The nstep rule on the chunk-end path: mini-batches of 8 tokens, each
// step taken once per mini-batch from the sum of its gradients at the
// mini-batch's first state (and its mean learning rate):
//   G = sum_{t in batch} k_t^T (k_t W - v_t)
//   n = b2 n + (1 - b2) G o G;  W = W - mean(lr) G / (sqrt(n) + eps)
// Every token of a mini-batch reads W from before it (before_update).
ttt.layer @normalized_delta_chunked attributes {mini_batch = 8 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  %k = ttt.input "k" : !ttt.vec<1>
  %v = ttt.input "v" : !ttt.vec<1>
  %lr = ttt.input "lr" : f32
  %W = ttt.state "w" init "w_init" final "w_final" : !ttt.mat<1, 1>
  %N = ttt.state "n" init "n_init" optional final "n_final" : !ttt.mat<1, 1>
  %b2 = ttt.constant 0.9

  ttt.model {
  ^bb0(%x: !ttt.vec<1>):
    %y = ttt.linear %x, %W : !ttt.vec<1>, !ttt.mat<1, 1>
    ttt.yield %y : !ttt.vec<1>
  }

  ttt.loss {
    %pred = ttt.call_model %k : !ttt.vec<1> -> !ttt.vec<1>
    %err = ttt.sub %pred, %v : !ttt.vec<1>, !ttt.vec<1>
    %l = ttt.sum_sq %err {scale = 0.5 : f32} : !ttt.vec<1>
    ttt.yield %l : f32
  }

  ttt.gd lr(%lr)
  nstep.normalized %W, %N, %b2 {eps = 1.0e-2 : f32, chunk_end} : !ttt.mat<1, 1>

  ttt.readout "out" before_update {
    %y = ttt.call_model %q : !ttt.vec<1> -> !ttt.vec<1>
    ttt.yield %y : !ttt.vec<1>
  }
}
