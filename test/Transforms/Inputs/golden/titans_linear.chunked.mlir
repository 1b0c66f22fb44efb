module {
  ttt.layer @titans_linear attributes {chunk_size = 16 : i64, head_dim = 16 : i64, mini_batch = 16 : i64} {
    %0 = ttt.input "q" : !ttt.vec<1>
    %1 = ttt.input "k" : !ttt.vec<1>
    %2 = ttt.input "v" : !ttt.vec<1>
    %3 = ttt.input "theta" : f32
    %4 = ttt.input "eta" : f32
    %5 = ttt.input "alpha" : f32
    %6 = ttt.state "w" init "w_init" final "w_final" : !ttt.mat<1, 1>
    %7 = ttt.state "s" init "s_init" optional final "s_final" : !ttt.mat<1, 1>
    ttt.chunk_step readouts ["out"] algorithm "dual_form" {
    ^bb0(%arg0: tensor<16x16xf32>, %arg1: tensor<16x16xf32>, %arg2: tensor<16x16xf32>, %arg3: tensor<16x1xf32>, %arg4: tensor<16x1xf32>, %arg5: tensor<16x1xf32>, %arg6: tensor<16x16xf32>, %arg7: tensor<16x16xf32>, %arg8: index):
      %8 = ttt.constant 1.000000e+00
      %9 = ttt.sub %8, %arg5 : f32, tensor<16x1xf32>
      %10 = ttt.linear %arg1, %arg6 : tensor<16x16xf32>, tensor<16x16xf32>
      %11 = ttt.sub %10, %arg2 : tensor<16x16xf32>, tensor<16x16xf32>
      %12 = ttt.broadcast %8 : f32 -> tensor<1x16xf32>
      %13 = ttt.mul %12, %11 : tensor<1x16xf32>, tensor<16x16xf32>
      %14 = ttt.add %13, %13 : tensor<16x16xf32>, tensor<16x16xf32>
      %15 = ttt.valid_mask %arg8 : tensor<16x1xf32>
      %16 = ttt.mul %arg3, %15 : tensor<16x1xf32>, tensor<16x1xf32>
      %17 = ttt.transpose %16 : tensor<16x1xf32>
      %c1 = arith.constant 1 : index
      %18 = arith.subi %arg8, %c1 : index
      %19 = ttt.sub %8, %15 : f32, tensor<16x1xf32>
      %20 = ttt.mul %9, %15 : tensor<16x1xf32>, tensor<16x1xf32>
      %21 = ttt.add %20, %19 : tensor<16x1xf32>, tensor<16x1xf32>
      %22 = ttt.broadcast %8 : f32 -> tensor<16x16xf32>
      %23 = ttt.log %21 : tensor<16x1xf32>
      %24 = ttt.causal_mask %22 : tensor<16x16xf32>
      %25 = ttt.matmul %24, %23 : tensor<16x16xf32>, tensor<16x1xf32>
      %26 = ttt.transpose %25 : tensor<16x1xf32>
      %27 = ttt.sub %25, %26 : tensor<16x1xf32>, tensor<1x16xf32>
      %28 = ttt.exp %27 : tensor<16x16xf32>
      %29 = ttt.causal_mask %28 : tensor<16x16xf32>
      %30 = ttt.exp %25 : tensor<16x1xf32>
      %31 = ttt.row %30[%18] : tensor<16x1xf32>
      %32 = ttt.mul %arg4, %15 : tensor<16x1xf32>, tensor<16x1xf32>
      %33 = ttt.add %32, %19 : tensor<16x1xf32>, tensor<16x1xf32>
      %34 = ttt.log %33 : tensor<16x1xf32>
      %35 = ttt.matmul %24, %34 : tensor<16x16xf32>, tensor<16x1xf32>
      %36 = ttt.transpose %35 : tensor<16x1xf32>
      %37 = ttt.sub %35, %36 : tensor<16x1xf32>, tensor<1x16xf32>
      %38 = ttt.exp %37 : tensor<16x16xf32>
      %39 = ttt.causal_mask %38 : tensor<16x16xf32>
      %40 = ttt.exp %35 : tensor<16x1xf32>
      %41 = ttt.matmul %29, %39 : tensor<16x16xf32>, tensor<16x16xf32>
      %42 = ttt.matmul %29, %40 : tensor<16x16xf32>, tensor<16x1xf32>
      %43 = ttt.row %42[%18] : tensor<16x1xf32>
      %44 = ttt.row %40[%18] : tensor<16x1xf32>
      %45 = ttt.row %35[%18] : tensor<16x1xf32>
      %46 = ttt.sub %45, %36 : tensor<1x1xf32>, tensor<1x16xf32>
      %47 = ttt.exp %46 : tensor<1x16xf32>
      %48 = ttt.mul %47, %17 : tensor<1x16xf32>, tensor<1x16xf32>
      %49 = ttt.mul %41, %17 : tensor<16x16xf32>, tensor<1x16xf32>
      %50 = ttt.row %49[%18] : tensor<16x16xf32>
      %51 = ttt.linear %arg0, %arg6 : tensor<16x16xf32>, tensor<16x16xf32>
      %52 = ttt.mul %30, %51 : tensor<16x1xf32>, tensor<16x16xf32>
      %53 = ttt.linear %arg0, %arg7 : tensor<16x16xf32>, tensor<16x16xf32>
      %54 = ttt.mul %42, %53 : tensor<16x1xf32>, tensor<16x16xf32>
      %55 = ttt.add %52, %54 : tensor<16x16xf32>, tensor<16x16xf32>
      %56 = ttt.matmul %arg0, %arg1 {transpose_rhs} : tensor<16x16xf32>, tensor<16x16xf32>
      %57 = ttt.mul %49, %56 : tensor<16x16xf32>, tensor<16x16xf32>
      %58 = ttt.matmul %57, %14 : tensor<16x16xf32>, tensor<16x16xf32>
      %59 = ttt.sub %55, %58 : tensor<16x16xf32>, tensor<16x16xf32>
      %60 = ttt.mul %31, %arg6 : tensor<1x1xf32>, tensor<16x16xf32>
      %61 = ttt.mul %43, %arg7 : tensor<1x1xf32>, tensor<16x16xf32>
      %62 = ttt.add %60, %61 : tensor<16x16xf32>, tensor<16x16xf32>
      %63 = ttt.transpose %50 : tensor<1x16xf32>
      %64 = ttt.mul %63, %14 : tensor<16x1xf32>, tensor<16x16xf32>
      %65 = ttt.matmul %arg1, %64 {transpose_lhs} : tensor<16x16xf32>, tensor<16x16xf32>
      %66 = ttt.sub %62, %65 : tensor<16x16xf32>, tensor<16x16xf32>
      %67 = ttt.mul %44, %arg7 : tensor<1x1xf32>, tensor<16x16xf32>
      %68 = ttt.transpose %48 : tensor<1x16xf32>
      %69 = ttt.mul %68, %14 : tensor<16x1xf32>, tensor<16x16xf32>
      %70 = ttt.matmul %arg1, %69 {transpose_lhs} : tensor<16x16xf32>, tensor<16x16xf32>
      %71 = ttt.sub %67, %70 : tensor<16x16xf32>, tensor<16x16xf32>
      ttt.yield %59, %66, %71 : tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>
    }
  }
}
