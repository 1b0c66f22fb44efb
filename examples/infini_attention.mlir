// Infini-attention (Munkhdalai et al., 2024, arXiv 2404.07143), linear
// memory update. Per segment (= mini-batch) with the previous state (M, z):
// A_mem = s(Q) M / (s(Q) z) (0 where s(Q) z == 0), A_dot = causal softmax
// attention inside the segment, out = sigmoid(gate) A_mem + (1 - sigmoid(gate)) A_dot;
// then M += s(K)^T V and z += sum s(K), with s(x) = elu(x) + 1.
// The update is gradient descent with learning rate 1 on
// -<s(k) M, v> - <s(k), z>.
ttt.layer @infini_attention attributes {mini_batch = 16 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  %k = ttt.input "k" : !ttt.vec<1>
  %v = ttt.input "v" : !ttt.vec<1>
  %gate = ttt.param "gate" : f32
  %M = ttt.state "m" final "m_final" : !ttt.mat<1, 1>
  %z = ttt.state "z" final "z_final" : !ttt.vec<1>

  ttt.loss {
    %sk = ttt.elu1 %k : !ttt.vec<1>
    %r = ttt.linear %sk, %M : !ttt.vec<1>, !ttt.mat<1, 1>
    %a = ttt.dot %r, %v : !ttt.vec<1>
    %b = ttt.dot %sk, %z : !ttt.vec<1>
    %s = ttt.add %a, %b : f32, f32
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
