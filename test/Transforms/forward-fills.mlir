// RUN: ttt-opt %s --ttt-forward-fills | FileCheck %s

// Copies of a zero tile become zero fills; the tile, only filled then, goes.
// CHECK-LABEL: func.func @zero_tiles(
// CHECK-NOT: memref.alloca() : memref<16x64xf32>
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%arg0 : memref<16x64xf32>)
// CHECK-NEXT: %[[V:.*]] = memref.subview %arg1
// CHECK-NEXT: linalg.fill ins(%{{.*}} : f32) outs(%[[V]] :
// CHECK-NOT: linalg.copy
// CHECK: return
func.func @zero_tiles(%a: memref<16x64xf32>, %b: memref<32x64xf32>) {
  %zero = arith.constant 0.0 : f32
  %t = memref.alloca() : memref<16x64xf32>
  linalg.fill ins(%zero : f32) outs(%t : memref<16x64xf32>)
  linalg.copy ins(%t : memref<16x64xf32>) outs(%a : memref<16x64xf32>)
  %v = memref.subview %b[0, 0] [16, 64] [1, 1] : memref<32x64xf32> to memref<16x64xf32, strided<[64, 1]>>
  linalg.copy ins(%t : memref<16x64xf32>) outs(%v : memref<16x64xf32, strided<[64, 1]>>)
  return
}

// A write into the tile (through a view) after its fill: the copy stays.
// CHECK-LABEL: func.func @overwritten(
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%[[T:.*]] : memref<16x64xf32>)
// CHECK: linalg.copy ins(%arg1 {{.*}} outs(%{{.*}} :
// CHECK: linalg.copy ins(%[[T]] : memref<16x64xf32>) outs(%arg0 :
func.func @overwritten(%a: memref<16x64xf32>, %row: memref<1x64xf32>) {
  %zero = arith.constant 0.0 : f32
  %t = memref.alloca() : memref<16x64xf32>
  linalg.fill ins(%zero : f32) outs(%t : memref<16x64xf32>)
  %r = memref.subview %t[3, 0] [1, 64] [1, 1] : memref<16x64xf32> to memref<1x64xf32, strided<[64, 1], offset: 192>>
  linalg.copy ins(%row : memref<1x64xf32>) outs(%r : memref<1x64xf32, strided<[64, 1], offset: 192>>)
  linalg.copy ins(%t : memref<16x64xf32>) outs(%a : memref<16x64xf32>)
  return
}
