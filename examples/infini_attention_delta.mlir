// Infini-attention with the delta memory update:
// M += s(K)^T (V - s(K) M / (s(K) z)) (the retrieved term 0 where
// s(K) z == 0), z += sum s(K); readout as in infini_attention.mlir.
// The update is gradient descent with learning rate 1 on
// -<s(k) M, v - stop_gradient(retrieved)> - <s(k), z>.
ttt.layer @infini_attention_delta attributes {mini_batch = 16 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  %k = ttt.input "k" : !ttt.vec<1>
  %v = ttt.input "v" : !ttt.vec<1>
  %gate = ttt.param "gate" : f32
  %M = ttt.state "m" final "m_final" : !ttt.mat<1, 1>
  %z = ttt.state "z" final "z_final" : !ttt.vec<1>

  ttt.loss {
    %sk = ttt.elu1 %k : !ttt.vec<1>
    %r = ttt.linear %sk, %M : !ttt.vec<1>, !ttt.mat<1, 1>
    %kz = ttt.dot %sk, %z : !ttt.vec<1>
    %ret = ttt.div_or_zero %r, %kz : !ttt.vec<1>, f32
    %ret_c = ttt.stop_gradient %ret : !ttt.vec<1>
    %t = ttt.sub %v, %ret_c : !ttt.vec<1>, !ttt.vec<1>
    %a = ttt.dot %r, %t : !ttt.vec<1>
    %s = ttt.add %a, %kz : f32, f32
    %l = ttt.neg %s : f32
    ttt.yield %l : f32
  }

  ttt.gd

  ttt.readout "out" before_update {
    %sq = ttt.elu1 %q : !ttt.vec<1>
    %num = ttt.linear %sq, %M : !ttt.vec<1>, !ttt.mat<1, 1>
    %den = ttt.dot %sq, %z : !ttt.vec<1>
    %mem = ttt.div_or_zero %num, %den : !ttt.vec<1>, f32
    %att = ttt.segment_attention %q, %k, %v : !ttt.vec<1>
    %g = ttt.sigmoid %gate : f32
    %one = ttt.constant 1.0
    %h = ttt.sub %one, %g : f32, f32
    %x = ttt.mul %g, %mem : f32, !ttt.vec<1>
    %y = ttt.mul %h, %att : f32, !ttt.vec<1>
    %o = ttt.add %x, %y : !ttt.vec<1>, !ttt.vec<1>
    ttt.yield %o : !ttt.vec<1>
  }
}
