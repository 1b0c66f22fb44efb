/*===- tttc_cuda.h - launch tttc GPU kernels (no MLIR needed) ---*- C -*-===*\
 *
 * Loads a kernel emitted by `tttc SPEC --emit=ptx` (the PTX text with its
 * `// tttc-kernel` header lines) through the CUDA driver API, opened with
 * dlopen at run time: a program linked with this library loads and runs on
 * machines without a driver, and these functions then return an error.
 *
 *   tttc_cuda_kernel *k = tttc_cuda_load_ptx(ptx_text);
 *   if (!k) fprintf(stderr, "%s\n", tttc_cuda_last_error());
 *   void *ptrs[] = {d_q, ...};                  // device pointers, in order
 *   const int64_t *shapes[] = {q_shape, ...};   // C-contiguous float32
 *   tttc_cuda_launch(k, B, H, ptrs, shapes, stream);
 *
 * Buffers are the layer's arguments in the order of tttc_cuda_param_name,
 * C-contiguous device memory aligned to their element: float32, or 16-bit
 * (tttc_cuda_param_bytes) for the per-token inputs and readouts of kernels
 * compiled with a bf16/f16 I/O type; an omitted optional
 * input is a null pointer with a shape whose first extent is 0.
\*===----------------------------------------------------------------------===*/
#ifndef TTTC_TTTC_CUDA_H
#define TTTC_TTTC_CUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tttc_cuda_kernel tttc_cuda_kernel;

/* 1 if a CUDA driver and device are usable, else 0 (the reason in
 * tttc_cuda_last_error()). */
int tttc_cuda_available(void);

/* The compute capability of the current device as "sm_XY", or NULL. */
const char *tttc_cuda_device_arch(void);
/* Its multiprocessors (0 without a device). */
int tttc_cuda_device_sm_count(void);

/* Loads PTX emitted by tttc (with its header); NULL on error (no driver, no
 * device, PTX for a newer architecture than the device, ...). */
tttc_cuda_kernel *tttc_cuda_load_ptx(const char *ptx);
/* Loads a cubin (`bytes` of ELF from ptxas, e.g. tttc compile --emit=cubin)
 * with its calling convention `header`: the text of the OUT.tttc file written
 * beside it (or the PTX it was assembled from). A cubin runs only on its own
 * GPU generation (sm_80: sm_80..89; sm_90a: sm_90 only): anything else is an
 * architecture mismatch; PTX is JIT-compiled for newer devices. */
tttc_cuda_kernel *tttc_cuda_load_cubin(const void *cubin, size_t bytes, const char *header);
/* Loads a file written by tttc compile --target=cuda: PTX, or a cubin (its
 * header read from PATH.tttc). */
tttc_cuda_kernel *tttc_cuda_load_file(const char *path);

int tttc_cuda_num_params(const tttc_cuda_kernel *k);
const char *tttc_cuda_param_name(const tttc_cuda_kernel *k, int i);
int tttc_cuda_param_rank(const tttc_cuda_kernel *k, int i);
/* Bytes per element of parameter i: 4 (float32) or 2 (bfloat16/float16). */
int tttc_cuda_param_bytes(const tttc_cuda_kernel *k, int i);
/* Threads per block and dynamic shared memory (bytes) of a launch. */
int tttc_cuda_block_size(const tttc_cuda_kernel *k);
int64_t tttc_cuda_shared_bytes(const tttc_cuda_kernel *k);
/* Global scratch memory per program (bytes) the runtime allocates on the
 * launch's stream when shared memory cannot hold a program's buffers. */
int64_t tttc_cuda_scratch_bytes(const tttc_cuda_kernel *k);
/* Programs per (batch, head): blocks of the state's columns the kernel was
 * compiled for (target option column-blocks=N; 1 by default). */
int tttc_cuda_column_blocks(const tttc_cuda_kernel *k);

/* Launches a grid_x x grid_y x column-blocks grid (B x H x N programs) on
 * `stream` (a CUstream;
 * NULL: the default stream). Does not synchronise. Returns 0, or -1 with the
 * reason in tttc_cuda_last_error(). */
int tttc_cuda_launch(tttc_cuda_kernel *k, int64_t grid_x, int64_t grid_y, void *const *ptrs,
                     const int64_t *const *shapes, void *stream);

void tttc_cuda_free(tttc_cuda_kernel *k);

/* Device memory helpers (synchronous); NULL / -1 on error. */
void *tttc_cuda_alloc_device(size_t bytes);
void tttc_cuda_free_device(void *ptr);
int tttc_cuda_copy_to_device(void *dst, const void *src, size_t bytes);
int tttc_cuda_copy_to_host(void *dst, const void *src, size_t bytes);
/* Waits for `stream` (NULL: every stream of the context). */
int tttc_cuda_synchronize(void *stream);

/* 1 if `ptr` is memory a kernel may use (a driver allocation, not host
 * memory), else 0. */
int tttc_cuda_is_device_memory(const void *ptr);

/* Stream-ordered device memory (cuMemAllocAsync / cuMemFreeAsync) and a
 * zero fill on `stream` (NULL: the default stream); NULL / -1 on error. */
void *tttc_cuda_alloc_async(size_t bytes, void *stream);
int tttc_cuda_free_async(void *ptr, void *stream);
int tttc_cuda_zero_async(void *ptr, size_t bytes, void *stream);

/* dst[j] = sum over r < rows of src[r * n + j] for j < n (float32 device
 * memory), added in order of r from 0 with round-to-nearest: the same
 * result, bit for bit, as the host's loop in that order. The backward sums
 * per-program partial gradients with it. Launched on `stream`; does not
 * synchronise. 0, or -1 with tttc_cuda_last_error(). */
int tttc_cuda_sum_rows(float *dst, const float *src, int64_t rows, int64_t n, void *stream);
/* The PTX tttc_cuda_sum_rows loads (sm_75 and newer, JIT-compiled for the
 * device): for checks with ptxas. */
const char *tttc_cuda_sum_rows_ptx(void);

/* The last error of a tttc_cuda_* call on this thread. */
const char *tttc_cuda_last_error(void);

#ifdef __cplusplus
}
#endif

#endif
