// RUN: ttt-opt %s --ttt-contract-float-ops | FileCheck %s
// Float ops inside a kernel may fuse into FMAs; host code is left alone.

// CHECK-LABEL: func.func @k(
// CHECK: arith.mulf %{{.*}} fastmath<contract> : f32
// CHECK: arith.addf %{{.*}} fastmath<nnan,contract> : f32
// CHECK: gpu.terminator
// CHECK: arith.mulf %{{.*}}, %{{.*}} : f32
// CHECK-NOT: fastmath
func.func @k(%a: f32, %b: f32, %m: memref<1xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%p = %c1, %q = %c1, %r = %c1) {
    %0 = arith.mulf %a, %b : f32
    %1 = arith.addf %0, %a fastmath<nnan> : f32
    memref.store %1, %m[%c0] : memref<1xf32>
    gpu.terminator
  }
  %h = arith.mulf %a, %b : f32
  return %h : f32
}
