// RUN: ttt-opt %s --split-input-file --verify-diagnostics

// A minimal valid layer is at the end; each case below breaks one rule.

// expected-error @+1 {{vector length multiplier must be positive}}
func.func private @f(!ttt.vec<0>)

// -----

// expected-error @+1 {{matrix size multipliers must be positive}}
func.func private @f(!ttt.mat<1, 0>)

// -----

// expected-error @+1 {{'ttt.layer' op attribute 'mini_batch' failed to satisfy constraint}}
ttt.layer @l attributes {mini_batch = 0 : i64} {
}

// -----

ttt.layer @l attributes {mini_batch = 4 : i64} {
  // expected-error @+1 {{needs a non-empty name}}
  %q = ttt.input "" : !ttt.vec<1>
}

// -----

ttt.layer @l attributes {mini_batch = 4 : i64} {
  // expected-error @+1 {{needs a non-empty name}}
  %q = ttt.param "" : !ttt.vec<1>
}

// -----

ttt.layer @l attributes {mini_batch = 4 : i64} {
  // expected-error @+1 {{'optional' needs an 'init' input name}}
  %w = "ttt.state"() <{name = "w", init_optional}> : () -> !ttt.mat<1, 1>
}

// -----

// expected-error @+1 {{needs exactly one ttt.loss (or ttt.gradient)}}
ttt.layer @l attributes {mini_batch = 4 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  %w = ttt.state "w" : !ttt.mat<1, 1>
  ttt.gd
  ttt.readout "o" {
    ttt.yield %q : !ttt.vec<1>
  }
}

// -----

// expected-error @+1 {{needs exactly one step rule (ttt.gd)}}
ttt.layer @l attributes {mini_batch = 4 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  %w = ttt.state "w" : !ttt.mat<1, 1>
  ttt.loss {
    %y = ttt.linear %q, %w : !ttt.vec<1>, !ttt.mat<1, 1>
    %l = ttt.sum_sq %y : !ttt.vec<1>
    ttt.yield %l : f32
  }
  ttt.readout "o" {
    ttt.yield %q : !ttt.vec<1>
  }
}

// -----

// expected-error @+1 {{needs at least one ttt.readout}}
ttt.layer @l attributes {mini_batch = 4 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  %w = ttt.state "w" : !ttt.mat<1, 1>
  ttt.loss {
    %y = ttt.linear %q, %w : !ttt.vec<1>, !ttt.mat<1, 1>
    %l = ttt.sum_sq %y : !ttt.vec<1>
    ttt.yield %l : f32
  }
  ttt.gd
}

// -----

// expected-error @+1 {{needs at least one ttt.state}}
ttt.layer @l attributes {mini_batch = 4 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  ttt.loss {
    %l = ttt.sum_sq %q : !ttt.vec<1>
    ttt.yield %l : f32
  }
  ttt.gd
  ttt.readout "o" {
    ttt.yield %q : !ttt.vec<1>
  }
}

// -----

ttt.layer @l attributes {mini_batch = 4 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  // expected-error @+1 {{duplicate input name 'q'}}
  %k = ttt.input "q" : !ttt.vec<1>
}

// -----

ttt.layer @l attributes {mini_batch = 4 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  %w = ttt.state "w" final "o" : !ttt.mat<1, 1>
  ttt.loss {
    %y = ttt.linear %q, %w : !ttt.vec<1>, !ttt.mat<1, 1>
    %l = ttt.sum_sq %y : !ttt.vec<1>
    ttt.yield %l : f32
  }
  ttt.gd
  // expected-error @+1 {{duplicate output name 'o'}}
  ttt.readout "o" {
    ttt.yield %q : !ttt.vec<1>
  }
}

// -----

// expected-error @+1 {{name 'q' is both an input and an output}}
ttt.layer @l attributes {mini_batch = 4 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  %w = ttt.state "w" : !ttt.mat<1, 1>
  ttt.loss {
    %y = ttt.linear %q, %w : !ttt.vec<1>, !ttt.mat<1, 1>
    %l = ttt.sum_sq %y : !ttt.vec<1>
    ttt.yield %l : f32
  }
  ttt.gd
  ttt.readout "q" {
    ttt.yield %q : !ttt.vec<1>
  }
}

// -----

ttt.layer @l attributes {mini_batch = 4 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  %w = ttt.state "w" : !ttt.mat<1, 1>
  // expected-error @+1 {{layer-level per-token computations cannot use fast-weight states}}
  %y = ttt.linear %q, %w : !ttt.vec<1>, !ttt.mat<1, 1>
}

// -----

ttt.layer @l attributes {mini_batch = 4 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  %b = ttt.state "b" : !ttt.vec<1>
  // expected-error @+1 {{layer-level per-token computations cannot use fast-weight states}}
  %y = ttt.add %q, %b : !ttt.vec<1>, !ttt.vec<1>
}

// -----

ttt.layer @l attributes {mini_batch = 4 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  // expected-error @+1 {{is not allowed directly in a ttt.layer}}
  %c = arith.constant 1.0 : f32
}

// -----

ttt.layer @l attributes {mini_batch = 4 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  %w = ttt.state "w" : !ttt.mat<1, 1>
  ttt.model {
  ^bb0(%x: !ttt.vec<1>):
    ttt.yield %x : !ttt.vec<1>
  }
  // expected-error @+1 {{a layer has at most one model}}
  ttt.model {
  ^bb0(%x: !ttt.vec<1>):
    ttt.yield %x : !ttt.vec<1>
  }
}

// -----

ttt.layer @l attributes {mini_batch = 4 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  // expected-error @+1 {{region takes one vector argument (the model's input)}}
  ttt.model {
  ^bb0(%x: f32):
    ttt.yield %q : !ttt.vec<1>
  }
}

// -----

ttt.layer @l attributes {mini_batch = 4 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  %g = ttt.input "g" : f32
  // expected-error @+1 {{must yield one vector (the model's output)}}
  ttt.model {
  ^bb0(%x: !ttt.vec<1>):
    ttt.yield %g : f32
  }
}

// -----

ttt.layer @l attributes {mini_batch = 4 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  // expected-error @+1 {{must yield one f32 (the loss)}}
  ttt.loss {
    ttt.yield %q : !ttt.vec<1>
  }
}

// -----

ttt.layer @l attributes {mini_batch = 4 : i64} {
  %g = ttt.input "g" : f32
  // expected-error @+1 {{must yield one vector (the output row)}}
  ttt.readout "o" {
    ttt.yield %g : f32
  }
}

// -----

ttt.layer @l attributes {mini_batch = 4 : i64} {
  // expected-error @+1 {{default region takes one f32 argument (the position)}}
  %s = ttt.position_input "s" default {
  ^bb0(%i: f32, %j: f32):
    ttt.yield %i : f32
  } : f32
}

// -----

ttt.layer @l attributes {mini_batch = 4 : i64} {
  %s = ttt.position_input "s" default {
  ^bb0(%i: f32):
    // expected-error @+1 {{is not allowed in a position_input default}}
    %c = arith.constant 1.0 : f32
    ttt.yield %c : f32
  } : f32
}

// -----

ttt.layer @l attributes {mini_batch = 4 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  %w = ttt.state "w" : !ttt.mat<1, 1>
  ttt.readout "o" {
    // expected-error @+1 {{uses fast-weight matrix state 'w' other than as the weight of ttt.linear}}
    %b = ttt.broadcast %w : !ttt.mat<1, 1> -> !ttt.vec<1>
    ttt.yield %b : !ttt.vec<1>
  }
}

// -----

ttt.layer @l attributes {mini_batch = 4 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  %w = ttt.state "w" : !ttt.mat<1, 1>
  ttt.gradient {
    // expected-error @+1 {{may only appear inside ttt.loss or ttt.readout}}
    %p = ttt.call_model %q : !ttt.vec<1> -> !ttt.vec<1>
  }
  ttt.gd
  ttt.readout "o" {
    ttt.yield %q : !ttt.vec<1>
  }
}

// -----

ttt.layer @l attributes {mini_batch = 4 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  %w = ttt.state "w" : !ttt.mat<1, 1>
  ttt.model {
  ^bb0(%x: !ttt.vec<1>):
    %y = ttt.linear %x, %w : !ttt.vec<1>, !ttt.mat<1, 1>
    ttt.yield %y : !ttt.vec<1>
  }
  ttt.loss {
    %p = ttt.call_model %q : !ttt.vec<1> -> !ttt.vec<1>
    %l = ttt.sum_sq %p : !ttt.vec<1>
    ttt.yield %l : f32
  }
  ttt.gd
  ttt.readout "o" {
    // expected-error @+1 {{type does not match the model: expected '!ttt.vec<1>' -> '!ttt.vec<1>'}}
    %p = ttt.call_model %q : !ttt.vec<1> -> !ttt.vec<2>
    ttt.yield %p : !ttt.vec<2>
  }
}

// -----

ttt.layer @l attributes {mini_batch = 4 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  %w = ttt.state "w" : !ttt.mat<1, 1>
  ttt.loss {
    %y = ttt.linear %q, %w : !ttt.vec<1>, !ttt.mat<1, 1>
    %l = ttt.sum_sq %y : !ttt.vec<1>
    ttt.yield %l : f32
  }
  ttt.gd
  ttt.readout "o" {
    // expected-error @+1 {{needs a ttt.model in the layer}}
    %p = ttt.call_model %q : !ttt.vec<1> -> !ttt.vec<1>
    ttt.yield %p : !ttt.vec<1>
  }
}

// -----

ttt.layer @l attributes {mini_batch = 4 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  %w = ttt.state "w" : !ttt.mat<1, 1>
  ttt.loss {
    %y = ttt.linear %q, %w : !ttt.vec<1>, !ttt.mat<1, 1>
    // expected-error @+1 {{is not allowed in a ttt.loss region}}
    %c = arith.constant 1.0 : f32
    %l = ttt.sum_sq %y : !ttt.vec<1>
    ttt.yield %l : f32
  }
  ttt.gd
  ttt.readout "o" {
    ttt.yield %q : !ttt.vec<1>
  }
}


// -----

ttt.layer @l attributes {mini_batch = 4 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  %s = ttt.position_input "s" default {
  ^bb0(%i: f32):
    ttt.yield %i : f32
  } : f32
  %g = ttt.input "g" : f32
  // expected-error @+1 {{scale must be computed from ttt.position_input values and constants only}}
  ttt.gd lr(%s) scale(%g)
}

// -----

ttt.layer @l attributes {mini_batch = 4 : i64} {
  %w = ttt.state "w" : !ttt.mat<1, 1>
  %e = ttt.input "e" : f32
  // expected-error @+1 {{buffer must be a different state}}
  ttt.momentum %w, %w, %e : !ttt.mat<1, 1>
}

// -----

ttt.layer @l attributes {mini_batch = 4 : i64} {
  %w = ttt.state "w" : !ttt.mat<1, 1>
  %w2 = ttt.state "w2" : !ttt.mat<1, 1>
  %one = ttt.constant 1.0
  // expected-error @+1 {{'ttt.momentum' op state and buffer must be ttt.state values}}
  "ttt.momentum"(%w, %x, %one) : (!ttt.mat<1, 1>, !ttt.mat<1, 1>, f32) -> ()
  %x = "ttt.bogus"() : () -> !ttt.mat<1, 1>
}

// -----

ttt.layer @l attributes {mini_batch = 4 : i64} {
  %x = ttt.input "x" : !ttt.vec<1>
  %y = ttt.input "y" : !ttt.vec<4>
  // expected-error @+1 {{operand types do not broadcast: vectors of different lengths}}
  %z = ttt.add %x, %y : !ttt.vec<1>, !ttt.vec<4>
}

// -----

ttt.layer @l attributes {mini_batch = 4 : i64} {
  %g = ttt.input "g" : f32
  // expected-error @+1 {{reductions take a vector (or a 2-D chunk tensor)}}
  %z = ttt.sum %g : f32
}

// -----

ttt.layer @l attributes {mini_batch = 4 : i64} {
  %w = ttt.state "w" : !ttt.mat<1, 4>
  ttt.model {
  ^bb0(%x: !ttt.vec<2>):
    // expected-error @+1 {{ttt.linear: input length does not match the matrix}}
    %y = ttt.linear %x, %w : !ttt.vec<2>, !ttt.mat<1, 4>
    ttt.yield %y : !ttt.vec<4>
  }
}

// -----

ttt.layer @l attributes {mini_batch = 4 : i64} {
  %x = ttt.input "x" : !ttt.vec<1>
  %y = ttt.input "y" : !ttt.vec<1>
  // expected-error @+1 {{ttt.linear: the weight must be a fast-weight matrix}}
  %z = ttt.linear %x, %y : !ttt.vec<1>, !ttt.vec<1>
}

// -----

ttt.layer @l attributes {mini_batch = 4 : i64} {
  %w = ttt.state "w" : !ttt.mat<1, 1>
  %x = ttt.input "x" : !ttt.vec<1>
  %g = ttt.input "g" : !ttt.vec<2>
  ttt.gradient {
    // expected-error @+1 {{factor lengths do not match the state's shape}}
    ttt.outer_grad %w, %x, %g : !ttt.mat<1, 1>, !ttt.vec<1>, !ttt.vec<2>
  }
}

// -----

ttt.layer @l attributes {mini_batch = 4 : i64} {
  %b = ttt.state "b" : !ttt.vec<1>
  %g = ttt.input "g" : !ttt.vec<2>
  ttt.gradient {
    // expected-error @+1 {{gradient type must match the state's type}}
    ttt.vec_grad %b, %g : !ttt.vec<1>, !ttt.vec<2>
  }
}

// -----

// expected-error @+1 {{a chunked layer holds exactly one ttt.chunk_step and no model, loss, update rule or readout}}
ttt.layer @l attributes {mini_batch = 4 : i64, head_dim = 8 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  ttt.gd
  ttt.chunk_step readouts [] algorithm "dual_form" {
  ^bb0(%a: tensor<4x8xf32>, %v: index):
    ttt.yield
  }
}

// -----

// expected-error @+1 {{a chunked layer needs a head_dim attribute}}
ttt.layer @l attributes {mini_batch = 4 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  ttt.chunk_step readouts [] algorithm "dual_form" {
  ^bb0(%a: tensor<4x8xf32>, %v: index):
    ttt.yield
  }
}

// -----

func.func @outside() {
  // expected-error @+1 {{'ttt.input' op expects parent op 'ttt.layer'}}
  %q = ttt.input "q" : !ttt.vec<1>
  return
}

// -----

ttt.layer @l attributes {mini_batch = 4 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  // expected-error @+1 {{region takes no arguments}}
  ttt.loss {
  ^bb0(%x: f32):
    ttt.yield %x : f32
  }
}

// -----

ttt.layer @l attributes {mini_batch = 4 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  ttt.model {
  ^bb0(%x: !ttt.vec<1>):
    // expected-error @+1 {{'ttt.call_model' op cannot be used inside the model itself}}
    %y = ttt.call_model %x : !ttt.vec<1> -> !ttt.vec<1>
    ttt.yield %y : !ttt.vec<1>
  }
}
