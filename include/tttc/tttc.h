/*===- tttc.h - the tttc C API ----------------------------------*- C -*-===*\
 *
 * Compile a test-time-training layer spec (ttt dialect text) for a head
 * dimension and mini-batch size, then run it on caller-owned host buffers.
 *
 *   tttc_options o = tttc_default_options(64);   (head dim 64; o.target = "cuda", ...)
 *   tttc_layer *l = tttc_compile_file("examples/ttt_linear.mlir", &o);
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

/* The API's version: 2 took every compile and emit entry point to one
 * tttc_options (version 1's _ex, _opts and _arch variants are gone). */
#define TTTC_API_VERSION 2

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

/* Loads a tttc plugin: a shared library built against this tttc's installed
 * CMake package (tttc/Plugin.h, docs/extending.md) whose dialects add update
 * rules. Every spec compiled afterwards in this process may use them (on
 * every target and emit stage). Refused when the plugin was built against
 * another tttc version, or is no tttc plugin; loading one twice is a no-op.
 * Returns 0, or -1 with tttc_last_error(). */
int tttc_load_plugin(const char *path);

/* Every compilation option; tttc_default_options() fills the defaults.
 * The fields and `options` are the pipeline options of ttt-opt's named
 * pipelines and of tttc's flags, spelled alike (tttc --help lists them all
 * with their descriptions). */
typedef struct {
  int64_t head_dim;      /* head-dim: required */
  int64_t mini_batch;    /* mini-batch: 0, the spec's own */
  int64_t exact_chunk;   /* exact-chunk: tokens per chunk step of exact per-token
                            rules (mini-batch 1, e.g. the delta rule's UT
                            transform); TTTC_DEFAULT_EXACT_CHUNK; 1: the
                            sequential path, one token per step */
  const char *target;    /* target: "cpu" (NULL), "cuda" (a GPU through the CUDA
                            driver) or "cuda-emu" (the GPU kernel IR emulated on
                            the CPU). Deprecated, removed in version 3:
                            "cuda-emu:check-races,threads=64" (options after a
                            colon; a warning in tttc_last_notes()) */
  const char *arch;      /* arch: the PTX's GPU architecture, "sm_80" (NULL),
                            "sm_90", "sm_90a" (target cuda: the device's) */
  const char *io_dtype;  /* io-dtype: per-token inputs and readouts, "f32" (NULL),
                            "bf16", "f16"; states, parameters and arithmetic stay
                            float32 */
  const char *options;   /* further pipeline options, space-separated, as ttt-opt
                            spells them: "mma-n-tiles=auto gpu-threads=256
                            check-races" (NULL: none). Options of one target
                            only are an error for another */
} tttc_options;
tttc_options tttc_default_options(int64_t head_dim);

/* Compile a spec (text, or a file whose name diagnostics show) with
 * `options`. Returns NULL on error (tttc_last_error()). */
tttc_layer *tttc_compile(const char *spec_text, const tttc_options *options);
tttc_layer *tttc_compile_file(const char *path, const tttc_options *options);
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

/* The outer-loop backward (training). A layer compiled with the pipeline
 * option "backward" (tttc_options.options = "backward"; every target) also has
 * a training forward (`<name>_forward_train`) and `<name>_backward`.
 *
 * tttc_run_train is tttc_run that also writes what the backward needs into
 * `saved`: tttc_saved_bytes(layer, B, T, H) bytes (4-byte aligned, owned by
 * the caller; per state its values at the start of every
 * backward-checkpoint-th chunk, [B, H, S, ...] float32 with
 * S = ceil(ceil(T / C) / backward-checkpoint), C the tokens per chunk step
 * (mini_batch, or exact_chunk for an exact per-token rule); the states one
 * after another in declaration order). tttc_saved_bytes returns 0 for a
 * layer without the backward.
 *
 * tttc_run_backward_saved: given the same inputs, `saved` from
 * tttc_run_train on them, and cotangents of the outputs (by output name,
 * the outputs' shapes and types; a missing one is zero), it writes the
 * gradient of every input named in `grads` (by input name, the shape and
 * element type that input was given with; inputs not named get theirs
 * computed and dropped; an omitted optional input has none). Gradients may
 * share no memory with inputs, `saved`, cotangents or each other.
 * tttc_run_backward is the same without `saved`: it runs the training
 * forward itself first (into scratch). Each returns 0, or non-zero with
 * tttc_last_error(). */
int tttc_has_backward(const tttc_layer *layer);
int64_t tttc_saved_bytes(const tttc_layer *layer, int64_t B, int64_t T, int64_t H);
int tttc_run_train(tttc_layer *layer, const tttc_tensor *inputs, int num_inputs,
                   const tttc_tensor *outputs, int num_outputs, void *saved,
                   int64_t saved_bytes);
int tttc_run_backward_saved(tttc_layer *layer, const tttc_tensor *inputs, int num_inputs,
                            const void *saved, int64_t saved_bytes,
                            const tttc_tensor *cotangents, int num_cotangents,
                            const tttc_tensor *grads, int num_grads);
int tttc_run_backward(tttc_layer *layer, const tttc_tensor *inputs, int num_inputs,
                      const tttc_tensor *cotangents, int num_cotangents,
                      const tttc_tensor *grads, int num_grads);
/* The same on target cuda, on caller-owned device buffers (as tttc_run_cuda:
 * `saved` too is device memory) on `stream` (a CUstream; NULL: the default
 * stream), without synchronising. tttc_run_backward_cuda with `saved` NULL
 * runs the training forward first, into scratch allocated on the stream.
 * The gradients every (b, h) program shares (parameters, position inputs,
 * initial states given per head) are written per program into scratch and
 * summed on the device in (b, h) order: deterministic, run to run. (The
 * host-buffer functions above also run on target cuda, through copies.) */
int tttc_run_train_cuda(tttc_layer *layer, const tttc_tensor *inputs, int num_inputs,
                        const tttc_tensor *outputs, int num_outputs, void *saved,
                        int64_t saved_bytes, void *stream);
int tttc_run_backward_cuda(tttc_layer *layer, const tttc_tensor *inputs, int num_inputs,
                           const void *saved, int64_t saved_bytes,
                           const tttc_tensor *cotangents, int num_cotangents,
                           const tttc_tensor *grads, int num_grads, void *stream);
/* Packed variable-length batches (fla's cu_seqlens, flash-attn's varlen):
 * N sequences one after another along T of a batch of one row,
 * cu_seqlens[0..N] their token offsets (0 = cu_seqlens[0] < cu_seqlens[1] <
 * ... < cu_seqlens[N] = T_total). Per-token inputs, readouts, their
 * cotangents and gradients are [1, T_total, H, ...]; each sequence starts
 * from the initial state (per head [H, ...], or its own row of
 * [N, H, ...]) and ends in its own final state (row i of [N, H, ...]: the
 * output shape for B = N); chunks restart at every boundary. The result is
 * bit for bit that of running each sequence alone (one call per sequence on
 * views of the buffers: no copies; the sequences run one after another).
 * Gradients of parameters, position inputs and shared initial states are
 * summed over the sequences. The saved states of tttc_run_train_varlen are
 * tttc_saved_bytes_varlen bytes, the sequences' own one after another.
 * Errors name the offending offset, tensor or sequence. */
int tttc_run_varlen(tttc_layer *layer, const tttc_tensor *inputs, int num_inputs,
                    const tttc_tensor *outputs, int num_outputs, const int64_t *cu_seqlens,
                    int num_seqs);
int64_t tttc_saved_bytes_varlen(const tttc_layer *layer, const int64_t *cu_seqlens,
                                int num_seqs, int64_t H);
int tttc_run_train_varlen(tttc_layer *layer, const tttc_tensor *inputs, int num_inputs,
                          const tttc_tensor *outputs, int num_outputs,
                          const int64_t *cu_seqlens, int num_seqs, void *saved,
                          int64_t saved_bytes);
int tttc_run_backward_varlen(tttc_layer *layer, const tttc_tensor *inputs, int num_inputs,
                             const int64_t *cu_seqlens, int num_seqs, const void *saved,
                             int64_t saved_bytes, const tttc_tensor *cotangents,
                             int num_cotangents, const tttc_tensor *grads, int num_grads);
/* The same on target cuda, on device buffers (the tensors and `saved`;
 * cu_seqlens stays a host array) on `stream` (NULL: the default stream),
 * without synchronising. The sequences are launched one after another (B = 1
 * each); the gradients summed over the sequences are summed on the device,
 * in sequence order. */
int tttc_run_varlen_cuda(tttc_layer *layer, const tttc_tensor *inputs, int num_inputs,
                         const tttc_tensor *outputs, int num_outputs,
                         const int64_t *cu_seqlens, int num_seqs, void *stream);
int tttc_run_train_varlen_cuda(tttc_layer *layer, const tttc_tensor *inputs, int num_inputs,
                               const tttc_tensor *outputs, int num_outputs,
                               const int64_t *cu_seqlens, int num_seqs, void *saved,
                               int64_t saved_bytes, void *stream);
int tttc_run_backward_varlen_cuda(tttc_layer *layer, const tttc_tensor *inputs, int num_inputs,
                                  const int64_t *cu_seqlens, int num_seqs, const void *saved,
                                  int64_t saved_bytes, const tttc_tensor *cotangents,
                                  int num_cotangents, const tttc_tensor *grads, int num_grads,
                                  void *stream);
/* Decoding: advancing the layer's state a few tokens at a time (inference).
 * A layer compiled with option "decode" (tttc_options.options = "decode";
 * every target) keeps a decoder state in one caller-owned host
 * buffer of tttc_decode_state_bytes(layer, B, H) bytes (8-byte aligned): a
 * header, every state's value at the start of the unfinished chunk and the
 * tokens of that chunk seen so far (so a mini-batch layer decoded token by
 * token gives the full-sequence forward's outputs). The buffer may be
 * copied (e.g. to fork a beam) and is only valid for the layer (and
 * options) that started it.
 *
 * tttc_decode_init starts it: every state at its initial value, given as
 * for tttc_run by the initial-state inputs' names ([H, ...] or [B, H, ...]);
 * an omitted optional one, or a state without an init, starts at zero.
 * tttc_decode_step advances it by n >= 1 tokens: `inputs` are tttc_run's
 * without initial states, the per-token ones [B, n, H, ...]; `outputs` are
 * tttc_run's by name (readouts [B, n, H, ...] of these tokens, final states
 * [B, H, ...] after them), each optional. A first step with the prompt
 * (n = its length) is the prefill. tttc_decode_position: the tokens the
 * state has seen, -1 if it is no decoder state. 0 on success, else
 * tttc_last_error(). */
int64_t tttc_decode_state_bytes(const tttc_layer *layer, int64_t B, int64_t H);
int tttc_decode_init(const tttc_layer *layer, const tttc_tensor *inits, int num_inits,
                     int64_t B, int64_t H, void *state, int64_t state_bytes);
int tttc_decode_step(tttc_layer *layer, const tttc_tensor *inputs, int num_inputs,
                     void *state, int64_t state_bytes, const tttc_tensor *outputs,
                     int num_outputs);
int64_t tttc_decode_position(const void *state, int64_t state_bytes);
/* Checks float32 gradients (e.g. from tttc_run_backward) against the float64
 * per-token reference, independently of the generated backward: per
 * gradient, `directions` seeded random directions U, the central difference
 * of L = sum <cotangent, output> along U against <grad, U>. rel_err[i]: the
 * largest relative difference for grads[i] (float32 inputs, cotangents and
 * gradients whatever the I/O type). Slow: for checks. Returns 0 on success. */
int tttc_check_gradients(const tttc_layer *layer, const tttc_tensor *inputs, int num_inputs,
                         const tttc_tensor *cotangents, int num_cotangents,
                         const tttc_tensor *grads, int num_grads, int directions,
                         uint64_t seed, double *rel_err);
/* tttc_check_gradients for a packed batch (as tttc_run_backward_varlen's:
 * the reference runs each sequence alone; L sums over the sequences). */
int tttc_check_gradients_varlen(const tttc_layer *layer, const tttc_tensor *inputs,
                                int num_inputs, const int64_t *cu_seqlens, int num_seqs,
                                const tttc_tensor *cotangents, int num_cotangents,
                                const tttc_tensor *grads, int num_grads, int directions,
                                uint64_t seed, double *rel_err);
/* The IR of the spec after a pipeline stage: "spec", "after-autodiff",
 * "chunked", "linalg", "gpu-kernel", "llvm-dialect", "llvm-ir", or "ptx" (the
 * GPU kernels' PTX for options->arch). The returned string is owned by the
 * caller (free with tttc_free_string); NULL on error. */
char *tttc_emit(const char *spec_text, const char *stage, const tttc_options *options);
char *tttc_emit_file(const char *path, const char *stage, const tttc_options *options);
/* Compile for the cpu target to a native object file at `object_path` and
 * write a C header declaring its entry point at `header_path` (may be
 * NULL). 0 on success. */
int tttc_compile_to_object(const char *spec_text, const tttc_options *options,
                           const char *object_path, const char *header_path);
int tttc_compile_file_to_object(const char *path, const tttc_options *options,
                                const char *object_path, const char *header_path);
void tttc_free_string(char *s);
/* Remarks of this thread's last successful compilation (e.g. "programs stay
 * one thread each: their buffers need 358 KB of shared memory"), or "". */
const char *tttc_last_notes(void);

#ifdef __cplusplus
}
#endif

#endif /* TTTC_TTTC_H */
