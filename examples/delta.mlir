// The delta rule (DeltaNet): one exact gradient step per token on
// 1/2 |k W - v|^2 with step beta_t:  W_t = W_{t-1} - beta_t k_t^T (k_t W_{t-1} - v_t);
// out_t = q_t W_t.
ttt.layer @delta attributes {mini_batch = 1 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  %k = ttt.input "k" : !ttt.vec<1>
  %v = ttt.input "v" : !ttt.vec<1>
  %beta = ttt.input "beta" : f32
  %W = ttt.state "w" init "w_init" final "w_final" : !ttt.mat<1, 1>

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

  ttt.gd lr(%beta)

  ttt.readout "out" {
    %y = ttt.call_model %q : !ttt.vec<1> -> !ttt.vec<1>
    ttt.yield %y : !ttt.vec<1>
  }
}
