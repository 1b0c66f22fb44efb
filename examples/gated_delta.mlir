// The gated delta rule: decay first, then one exact delta step at the decayed state:
// W_t = alpha_t W_{t-1};  W_t = W_t - beta_t k_t^T (k_t W_t - v_t);
// out_t = q_t W_t.
ttt.layer @gated_delta attributes {mini_batch = 1 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  %k = ttt.input "k" : !ttt.vec<1>
  %v = ttt.input "v" : !ttt.vec<1>
  %beta = ttt.input "beta" : f32
  %alpha = ttt.input "alpha" : f32
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
  ttt.decay %W, %alpha {pre_gradient} : !ttt.mat<1, 1>

  ttt.readout "out" {
    %y = ttt.call_model %q : !ttt.vec<1> -> !ttt.vec<1>
    ttt.yield %y : !ttt.vec<1>
  }
}
