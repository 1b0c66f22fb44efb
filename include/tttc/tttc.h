/*===- tttc.h - the tttc C API ----------------------------------*- C -*-===*\
 *
 * Compile a test-time-training layer spec (ttt dialect text) for a head
 * dimension and mini-batch size, then run it on caller-owned host buffers.
 *
 *   tttc_layer *l = tttc_compile_file("examples/ttt_linear.mlir", 64, 0);
 *   if (!l) fprintf(stderr, "%s\n", tttc_last_error());
 *   tttc_tensor in[] = {{"q", q, 4, (int64_t[]){B, T, H, 64}}, ...};
 *   tttc_tensor out[] = {{"out", o, 4, (int64_t[]){B, T, H, 64}}, ...};
 *   if (tttc_run(l, in, n_in, out, n_out) != 0) ... tttc_last_error() ...
 *   tttc_destroy(l);
 *
 * Tensors are C-contiguous float32, except the per-token inputs and readouts
 * of a layer compiled with a 16-bit I/O type (tttc_options.io_dtype "bf16" or
 * "f16"), whose elements are 16-bit. Errors are reported through the
 * return value and a message from tttc_last_error() (per thread).
\*===----------------------------------------------------------------------===*/
#ifndef TTTC_TTTC_H
#define TTTC_TTTC_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tttc_layer tttc_layer;

/* Tokens per chunk step of exact per-token rules, by default. */
#define TTTC_DEFAULT_EXACT_CHUNK 16

/* A named tensor, C-contiguous: float32, or 16-bit elements for the
 * per-token inputs and readouts of a layer with a 16-bit I/O type. */
typedef struct {
  const char *name;
  void *data;
  int rank;
  const int64_t *shape;
} tttc_tensor;

/* What a layer argument is (see tttc_arg_kind). */
enum {
  TTTC_TOKEN_VECTOR = 0, /* [B, T, H, n] */
  TTTC_TOKEN_SCALAR,     /* [B, T, H] */
  TTTC_POSITION_SCALAR,  /* [C]; may be omitted (the spec's default) */
  TTTC_PARAM_VECTOR,     /* [H, n] */
  TTTC_PARAM_SCALAR,     /* [H] */
  TTTC_STATE_INIT,       /* [H, ...] or [B, H, ...] */
  TTTC_READOUT,          /* output [B, T, H, n] */
  TTTC_STATE_FINAL       /* output [B, H, ...] */
};

/* The message of the last failed call on this thread ("" if none). */
const char *tttc_last_error(void);

/* Compile a spec for head dimension `head_dim` and mini-batch size
 * `mini_batch` (0: the spec's own). Returns NULL on error. */
tttc_layer *tttc_compile(const char *spec_text, int64_t head_dim, int64_t mini_batch);
tttc_layer *tttc_compile_file(const char *path, int64_t head_dim, int64_t mini_batch);
/* As tttc_compile_file, choosing the chunk size of exact per-token rules
 * (mini-batch 1, e.g. the delta rule's UT transform; default
 * TTTC_DEFAULT_EXACT_CHUNK; 1 selects
 * the sequential path, one token per chunk step) and the target: "cpu"
 * (NULL) or "cuda-emu" (the GPU-mapped kernel IR, emulated on the CPU;
 * "cuda-emu:fault=short-grid" injects a mapping bug, for tests). */
tttc_layer *tttc_compile_file_ex(const char *path, int64_t head_dim, int64_t mini_batch,
                                 int64_t exact_chunk, const char *target);

/* Every compilation option; tttc_default_options() fills the defaults. */
typedef struct {
  int64_t head_dim;      /* required */
  int64_t mini_batch;    /* 0: the spec's own */
  int64_t exact_chunk;   /* TTTC_DEFAULT_EXACT_CHUNK */
  const char *target;    /* "cpu[:column-blocks=N]" (NULL: "cpu"), "cuda[:options]",
                            "cuda-emu[:options]"; options: threads=N, column-blocks=N
                            (cuda's default "auto": chosen per launch from B*H and the
                            device, where the layer allows it), tensor-cores=0|1, mma-chains=1|2|3,
                            precision=tf32x3|tf32|tf32-rz (tensor-core operands:
                            f32 accuracy; rounded to tf32, ~1e-3 relative error;
                            or truncated by the tensor cores, worse and biased),
                            mma-n-tiles=R|auto (tensor-core tiles per warp task; auto),
                            warp-rotate=0|1 (matmuls' warps round-robin),
                            k-split=0|1 (matmuls' k steps over idle warps),
                            prefetch=N (next chunk's inputs loaded N barriers
                            before a step's end, default 2; 0: not ahead),
                            rounds=static|strided, row-warps=1|0, tid-per-chunk=1|0,
                            buffers=apart|packed,
                            min-programs=N
                            (cuda-emu also check-races) */
  const char *io_dtype;  /* per-token inputs and readouts: "f32" (NULL), "bf16", "f16";
                            states, parameters and arithmetic stay float32 */
} tttc_options;
tttc_options tttc_default_options(int64_t head_dim);
tttc_layer *tttc_compile_file_opts(const char *path, const tttc_options *options);
tttc_layer *tttc_compile_opts(const char *spec_text, const tttc_options *options);
/* As tttc_emit_file_arch with every option (the I/O type shapes the PTX). */
char *tttc_emit_file_opts(const char *path, const char *stage, const tttc_options *options,
                          const char *arch);
/* "f32", "bf16" or "f16". */
const char *tttc_io_dtype(const tttc_layer *layer);
/* The operands of the layer's matmuls: "f32", or on tensor cores "tf32x3"
 * (f32 accuracy from three products), "tf32" (rounded to tf32, ~1e-3
 * relative error) or "tf32-rz" (truncated by the tensor cores). */
const char *tttc_matmul_precision(const tttc_layer *layer);
void tttc_destroy(tttc_layer *layer);

const char *tttc_layer_name(const tttc_layer *layer);
int64_t tttc_head_dim(const tttc_layer *layer);
int64_t tttc_mini_batch(const tttc_layer *layer);

/* The layer's inputs and outputs, in calling order. */
int tttc_num_inputs(const tttc_layer *layer);
int tttc_num_outputs(const tttc_layer *layer);
const char *tttc_input_name(const tttc_layer *layer, int i);
const char *tttc_output_name(const tttc_layer *layer, int i);
int tttc_input_kind(const tttc_layer *layer, int i);
int tttc_output_kind(const tttc_layer *layer, int i);
/* Whether input i may be omitted. */
int tttc_input_optional(const tttc_layer *layer, int i);
/* The shape input i must have for batch B, length T and H heads (state
 * initial values: the shared [H, ...] form). Returns the rank. */
int tttc_input_shape(const tttc_layer *layer, int i, int64_t B, int64_t T, int64_t H,
                     int64_t shape[8]);
/* The shape of output i for batch B, length T and H heads. Returns the rank. */
int tttc_output_shape(const tttc_layer *layer, int i, int64_t B, int64_t T, int64_t H,
                      int64_t shape[8]);

/* Run the layer. Every required input and every output must be given, by
 * name, with the right shape; B, T and H are taken from the first per-token
 * vector input. Outputs may share no memory with inputs or other outputs
 * (no in-place state updates: an error). Returns 0 on success. */
int tttc_run(tttc_layer *layer, const tttc_tensor *inputs, int num_inputs,
             const tttc_tensor *outputs, int num_outputs);

/* For a layer compiled with target "cuda": validate shapes, then launch on
 * caller-owned device buffers (`data` are device pointers, float32,
 * C-contiguous, 4-byte aligned) on `stream` (a CUstream; NULL: the default
 * stream). Does not synchronise. Returns 0, or non-zero with the reason in
 * tttc_last_error() (wrong shapes, overlapping outputs, host memory, no driver,
 * launch failure). */
int tttc_run_cuda(tttc_layer *layer, const tttc_tensor *inputs, int num_inputs,
                  const tttc_tensor *outputs, int num_outputs, void *stream);

/* Target cuda: the programs per (batch, head) its last launch used (column
 * blocks of the state: chosen per launch with column-blocks=auto, the
 * default); 0 before the first launch and for other targets. */
int64_t tttc_column_blocks(const tttc_layer *layer);

/* A named float64 tensor, C-contiguous (reference outputs). */
typedef struct {
  const char *name;
  double *data;
  int rank;
  const int64_t *shape;
} tttc_tensor_f64;

/* Evaluate the spec with the float64 per-token reference interpreter (the
 * inputs are float32 whatever the layer's I/O type; 
 * spec's semantics token by token, weights materialised per token, no
 * chunking or dual form) on the same inputs as tttc_run. Slow: for checks.
 * Outputs may be any subset of the layer's outputs. Returns 0 on success. */
int tttc_run_reference(tttc_layer *layer, const tttc_tensor *inputs, int num_inputs,
                       const tttc_tensor_f64 *outputs, int num_outputs);

/* The IR of the spec after a pipeline stage: "spec", "after-autodiff",
 * "chunked", "linalg", "gpu-kernel", "llvm-dialect", "llvm-ir", or "ptx" (the
 * GPU kernels' PTX). The returned string is
 * owned by the caller (free with tttc_free_string); NULL on error. */
char *tttc_emit(const char *spec_text, const char *stage, int64_t head_dim,
                int64_t mini_batch);
/* The same, for a spec file (diagnostics name the file). */
char *tttc_emit_file(const char *path, const char *stage, int64_t head_dim,
                     int64_t mini_batch);
/* The same with the GPU architecture for stage "ptx" (sm_80, sm_90, sm_90a). */
char *tttc_emit_file_arch(const char *path, const char *stage, int64_t head_dim,
                          int64_t mini_batch, const char *arch);
/* Compile to a native object file at `object_path` and write a C header
 * declaring its entry point at `header_path` (may be NULL). 0 on success. */
int tttc_compile_to_object(const char *spec_text, int64_t head_dim, int64_t mini_batch,
                           const char *object_path, const char *header_path);
int tttc_compile_file_to_object(const char *path, int64_t head_dim, int64_t mini_batch,
                                const char *object_path, const char *header_path);
void tttc_free_string(char *s);
/* Remarks of this thread's last successful compilation (e.g. "programs stay
 * one thread each: their buffers need 358 KB of shared memory"), or "". */
const char *tttc_last_notes(void);

#ifdef __cplusplus
}
#endif

#endif /* TTTC_TTTC_H */
