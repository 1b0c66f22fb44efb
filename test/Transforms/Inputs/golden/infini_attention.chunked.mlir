module {
  ttt.layer @infini_attention attributes {chunk_size = 16 : i64, head_dim = 16 : i64, mini_batch = 16 : i64} {
    %0 = ttt.input "q" : !ttt.vec<1>
    %1 = ttt.input "k" : !ttt.vec<1>
    %2 = ttt.input "v" : !ttt.vec<1>
    %3 = ttt.param "gate" : f32
    %4 = ttt.state "m" final "m_final" : !ttt.mat<1, 1>
    %5 = ttt.state "z" final "z_final" : !ttt.vec<1>
    ttt.chunk_step readouts ["out"] algorithm "dual_form" {
    ^bb0(%arg0: tensor<16x16xf32>, %arg1: tensor<16x16xf32>, %arg2: tensor<16x16xf32>, %arg3: tensor<1x1xf32>, %arg4: tensor<16x16xf32>, %arg5: tensor<1x16xf32>, %arg6: index):
      %6 = ttt.elu1 %arg1 : tensor<16x16xf32>
      %7 = ttt.constant 1.000000e+00
      %8 = ttt.neg %7 : f32
      %9 = ttt.broadcast %8 : f32 -> tensor<1x16xf32>
      %10 = ttt.mul %9, %6 : tensor<1x16xf32>, tensor<16x16xf32>
      %11 = ttt.mul %9, %arg2 : tensor<1x16xf32>, tensor<16x16xf32>
      %12 = ttt.valid_mask %arg6 : tensor<16x1xf32>
      %13 = ttt.transpose %12 : tensor<16x1xf32>
      %c1 = arith.constant 1 : index
      %14 = arith.subi %arg6, %c1 : index
      %15 = ttt.broadcast %7 : f32 -> tensor<16x1xf32>
      %16 = ttt.mul %15, %13 : tensor<16x1xf32>, tensor<1x16xf32>
      %17 = ttt.causal_mask %16 : tensor<16x16xf32>
      %18 = ttt.row %17[%14] : tensor<16x16xf32>
      %19 = ttt.elu1 %arg0 : tensor<16x16xf32>
      %20 = ttt.linear %19, %arg4 : tensor<16x16xf32>, tensor<16x16xf32>
      %21 = ttt.mul %19, %arg5 : tensor<16x16xf32>, tensor<1x16xf32>
      %22 = ttt.sum %21 : tensor<16x16xf32>
      %23 = ttt.div_or_zero %20, %22 : tensor<16x16xf32>, tensor<16x1xf32>
      %24 = ttt.segment_attention %arg0, %arg1, %arg2 : tensor<16x16xf32>
      %25 = ttt.sigmoid %arg3 : tensor<1x1xf32>
      %26 = ttt.sub %7, %25 : f32, tensor<1x1xf32>
      %27 = ttt.mul %25, %23 : tensor<1x1xf32>, tensor<16x16xf32>
      %28 = ttt.mul %26, %24 : tensor<1x1xf32>, tensor<16x16xf32>
      %29 = ttt.add %27, %28 : tensor<16x16xf32>, tensor<16x16xf32>
      %30 = ttt.transpose %18 : tensor<1x16xf32>
      %31 = ttt.mul %30, %11 : tensor<16x1xf32>, tensor<16x16xf32>
      %32 = ttt.matmul %6, %31 {transpose_lhs} : tensor<16x16xf32>, tensor<16x16xf32>
      %33 = ttt.sub %arg4, %32 : tensor<16x16xf32>, tensor<16x16xf32>
      %34 = ttt.matmul %18, %10 : tensor<1x16xf32>, tensor<16x16xf32>
      %35 = ttt.sub %arg5, %34 : tensor<1x16xf32>, tensor<1x16xf32>
      ttt.yield %29, %33, %35 : tensor<16x16xf32>, tensor<16x16xf32>, tensor<1x16xf32>
    }
  }
}
