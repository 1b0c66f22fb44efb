// A heap buffer inside a kernel would be a device malloc per program (per
// chunk in the chunk loop); the GPU pipelines reject it with its location.
// RUN: ttt-opt %s --ttt-check-gpu-local-memory --split-input-file --verify-diagnostics

func.func @dynamic(%n: index) {
  %c1 = arith.constant 1 : index
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%a = %c1, %b = %c1, %c = %c1) {
    // expected-error @+1 {{a GPU kernel cannot allocate 'memref<?xf32>' here: a dynamically sized buffer in a kernel would be a device-heap allocation per program}}
    %m = memref.alloc(%n) : memref<?xf32>
    gpu.terminator
  }
  return
}

// -----

func.func @heap() {
  %c1 = arith.constant 1 : index
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%a = %c1, %b = %c1, %c = %c1) {
    // expected-error @+1 {{a GPU kernel cannot allocate 'memref<16xf32>' here: a heap buffer}}
    %m = memref.alloc() : memref<16xf32>
    gpu.terminator
  }
  return
}

// -----

// Static thread-local buffers are what kernels hold; a buffer outside the
// launch (scratch) is the host's.
func.func @fine(%n: index) {
  %c1 = arith.constant 1 : index
  %s = memref.alloc(%n) : memref<?xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%a = %c1, %b = %c1, %c = %c1) {
    %m = memref.alloca() : memref<16xf32>
    gpu.terminator
  }
  return
}
