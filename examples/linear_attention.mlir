// Linear attention as a test-time-training layer: the loss -<k W, v> with
// learning rate 1 gives W_t = W_{t-1} + k_t^T v_t; out_t = q_t W_t.
ttt.layer @linear_attention attributes {mini_batch = 16 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  %k = ttt.input "k" : !ttt.vec<1>
  %v = ttt.input "v" : !ttt.vec<1>
  %W = ttt.state "w" init "w_init" final "w_final" : !ttt.mat<1, 1>

  ttt.model {
  ^bb0(%x: !ttt.vec<1>):
    %y = ttt.linear %x, %W : !ttt.vec<1>, !ttt.mat<1, 1>
    ttt.yield %y : !ttt.vec<1>
  }

  ttt.loss {
    %pred = ttt.call_model %k : !ttt.vec<1> -> !ttt.vec<1>
    %d = ttt.dot %pred, %v : !ttt.vec<1>
    %l = ttt.neg %d : f32
    ttt.yield %l : f32
  }

  ttt.gd

  ttt.readout "out" {
    %y = ttt.call_model %q : !ttt.vec<1> -> !ttt.vec<1>
    ttt.yield %y : !ttt.vec<1>
  }
}
