// A delta-rule memory trained by a per-element normalised step (the nstep
// plugin's rule), exact per token:
//   g_t = k_t^T (k_t W_{t-1} - v_t)
//   n_t = b2 n_{t-1} + (1 - b2) g_t o g_t
//   W_t = W_{t-1} - lr_t g_t / (sqrt(n_t) + eps);  out_t = q_t W_t.
// Needs the plugin: tttc --plugin=NormalizedStep.so, ttt-opt
// --load-dialect-plugin=NormalizedStep.so.
ttt.layer @normalized_delta attributes {mini_batch = 1 : i64} {
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
  nstep.normalized %W, %N, %b2 {eps = 1.0e-2 : f32} : !ttt.mat<1, 1>

  ttt.readout "out" {
    %y = ttt.call_model %q : !ttt.vec<1> -> !ttt.vec<1>
    ttt.yield %y : !ttt.vec<1>
  }
}
