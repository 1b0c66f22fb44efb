module {
  ttt.layer @linear_attention attributes {chunk_size = 16 : i64, head_dim = 16 : i64, mini_batch = 16 : i64} {
    %0 = ttt.input "q" : !ttt.vec<1>
    %1 = ttt.input "k" : !ttt.vec<1>
    %2 = ttt.input "v" : !ttt.vec<1>
    %3 = ttt.state "w" init "w_init" final "w_final" : !ttt.mat<1, 1>
    ttt.chunk_step readouts ["out"] algorithm "dual_form" {
    ^bb0(%arg0: tensor<16x16xf32>, %arg1: tensor<16x16xf32>, %arg2: tensor<16x16xf32>, %arg3: tensor<16x16xf32>, %arg4: index):
      %4 = ttt.constant 1.000000e+00
      %5 = ttt.neg %4 : f32
      %6 = ttt.broadcast %5 : f32 -> tensor<1x16xf32>
      %7 = ttt.mul %6, %arg2 : tensor<1x16xf32>, tensor<16x16xf32>
      %8 = ttt.valid_mask %arg4 : tensor<16x1xf32>
      %9 = ttt.transpose %8 : tensor<16x1xf32>
      %c1 = arith.constant 1 : index
      %10 = arith.subi %arg4, %c1 : index
      %11 = ttt.broadcast %4 : f32 -> tensor<16x1xf32>
      %12 = ttt.mul %11, %9 : tensor<16x1xf32>, tensor<1x16xf32>
      %13 = ttt.causal_mask %12 : tensor<16x16xf32>
      %14 = ttt.row %13[%10] : tensor<16x16xf32>
      %15 = ttt.linear %arg0, %arg3 : tensor<16x16xf32>, tensor<16x16xf32>
      %16 = ttt.matmul %arg0, %arg1 {transpose_rhs} : tensor<16x16xf32>, tensor<16x16xf32>
      %17 = ttt.mul %13, %16 : tensor<16x16xf32>, tensor<16x16xf32>
      %18 = ttt.matmul %17, %7 : tensor<16x16xf32>, tensor<16x16xf32>
      %19 = ttt.sub %15, %18 : tensor<16x16xf32>, tensor<16x16xf32>
      %20 = ttt.transpose %14 : tensor<1x16xf32>
      %21 = ttt.mul %20, %7 : tensor<16x1xf32>, tensor<16x16xf32>
      %22 = ttt.matmul %arg1, %21 {transpose_lhs} : tensor<16x16xf32>, tensor<16x16xf32>
      %23 = ttt.sub %arg3, %22 : tensor<16x16xf32>, tensor<16x16xf32>
      ttt.yield %19, %23 : tensor<16x16xf32>, tensor<16x16xf32>
    }
  }
}
