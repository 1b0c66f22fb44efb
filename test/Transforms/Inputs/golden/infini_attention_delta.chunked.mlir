module {
  ttt.layer @infini_attention_delta attributes {chunk_size = 16 : i64, head_dim = 16 : i64, mini_batch = 16 : i64} {
    %0 = ttt.input "q" : !ttt.vec<1>
    %1 = ttt.input "k" : !ttt.vec<1>
    %2 = ttt.input "v" : !ttt.vec<1>
    %3 = ttt.param "gate" : f32
    %4 = ttt.state "m" final "m_final" : !ttt.mat<1, 1>
    %5 = ttt.state "z" final "z_final" : !ttt.vec<1>
    ttt.chunk_step readouts ["out"] algorithm "dual_form" {
    ^bb0(%arg0: tensor<16x16xf32>, %arg1: tensor<16x16xf32>, %arg2: tensor<16x16xf32>, %arg3: tensor<1x1xf32>, %arg4: tensor<16x16xf32>, %arg5: tensor<1x16xf32>, %arg6: index):
      %6 = ttt.elu1 %arg1 : tensor<16x16xf32>
      %7 = ttt.linear %6, %arg4 : tensor<16x16xf32>, tensor<16x16xf32>
      %8 = ttt.mul %6, %arg5 : tensor<16x16xf32>, tensor<1x16xf32>
      %9 = ttt.sum %8 : tensor<16x16xf32>
      %10 = ttt.div_or_zero %7, %9 : tensor<16x16xf32>, tensor<16x1xf32>
      %11 = ttt.stop_gradient %10 : tensor<16x16xf32>
      %12 = ttt.sub %arg2, %11 : tensor<16x16xf32>, tensor<16x16xf32>
      %13 = ttt.constant 1.000000e+00
      %14 = ttt.neg %13 : f32
      %15 = ttt.broadcast %14 : f32 -> tensor<1x16xf32>
      %16 = ttt.mul %15, %12 : tensor<1x16xf32>, tensor<16x16xf32>
      %17 = ttt.mul %15, %6 : tensor<1x16xf32>, tensor<16x16xf32>
      %18 = ttt.valid_mask %arg6 : tensor<16x1xf32>
      %19 = ttt.transpose %18 : tensor<16x1xf32>
      %c1 = arith.constant 1 : index
      %20 = arith.subi %arg6, %c1 : index
      %21 = ttt.broadcast %13 : f32 -> tensor<16x1xf32>
      %22 = ttt.mul %21, %19 : tensor<16x1xf32>, tensor<1x16xf32>
      %23 = ttt.causal_mask %22 : tensor<16x16xf32>
      %24 = ttt.row %23[%20] : tensor<16x16xf32>
      %25 = ttt.elu1 %arg0 : tensor<16x16xf32>
      %26 = ttt.linear %25, %arg4 : tensor<16x16xf32>, tensor<16x16xf32>
      %27 = ttt.mul %25, %arg5 : tensor<16x16xf32>, tensor<1x16xf32>
      %28 = ttt.sum %27 : tensor<16x16xf32>
      %29 = ttt.div_or_zero %26, %28 : tensor<16x16xf32>, tensor<16x1xf32>
      %30 = ttt.segment_attention %arg0, %arg1, %arg2 : tensor<16x16xf32>
      %31 = ttt.sigmoid %arg3 : tensor<1x1xf32>
      %32 = ttt.sub %13, %31 : f32, tensor<1x1xf32>
      %33 = ttt.mul %31, %29 : tensor<1x1xf32>, tensor<16x16xf32>
      %34 = ttt.mul %32, %30 : tensor<1x1xf32>, tensor<16x16xf32>
      %35 = ttt.add %33, %34 : tensor<16x16xf32>, tensor<16x16xf32>
      %36 = ttt.transpose %24 : tensor<1x16xf32>
      %37 = ttt.mul %36, %16 : tensor<16x1xf32>, tensor<16x16xf32>
      %38 = ttt.matmul %6, %37 {transpose_lhs} : tensor<16x16xf32>, tensor<16x16xf32>
      %39 = ttt.sub %arg4, %38 : tensor<16x16xf32>, tensor<16x16xf32>
      %40 = ttt.matmul %24, %17 : tensor<1x16xf32>, tensor<16x16xf32>
      %41 = ttt.sub %arg5, %40 : tensor<1x16xf32>, tensor<1x16xf32>
      ttt.yield %35, %39, %41 : tensor<16x16xf32>, tensor<16x16xf32>, tensor<1x16xf32>
    }
  }
}
