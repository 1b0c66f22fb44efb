//===- CAPI.cpp - the tttc C API ------------------------------------------===//

#include "tttc/tttc.h"

#include "../Runtime/Runtime.h"
#include "../Runtime/Varlen.h"
#include "../Runtime/Decode.h"

#include "dialect/Passes.h"

#include "llvm/Support/MemoryBuffer.h"

#include <cstdlib>
#include <cstring>

using mlir::ttt::ArgInfo;

struct tttc_layer {
  std::unique_ptr<tttc::CompiledLayer> impl;
};

namespace {
thread_local std::string lastError;

template <typename T>
T failWith(const std::string &msg, T value) {
  lastError = msg;
  return value;
}

const ArgInfo *input(const tttc_layer *l, int i) {
  if (!l || i < 0 || i >= int(l->impl->signature().inputs.size()))
    return nullptr;
  return &l->impl->signature().inputs[i];
}
const ArgInfo *output(const tttc_layer *l, int i) {
  if (!l || i < 0 || i >= int(l->impl->signature().outputs.size()))
    return nullptr;
  return &l->impl->signature().outputs[i];
}

int shapeInto(const ArgInfo *a, const tttc_layer *l, int64_t B, int64_t T, int64_t H,
              int64_t shape[8]) {
  if (!a)
    return failWith("argument index out of range", -1);
  std::vector<int64_t> s =
      tttc::CompiledLayer::shapeOf(*a, B, T, H, l->impl->signature().miniBatch);
  for (size_t i = 0; i < s.size() && i < 8; ++i)
    shape[i] = s[i];
  return int(s.size());
}

bool readFile(const char *path, std::string &out) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> f = llvm::MemoryBuffer::getFile(path);
  if (!f)
    return false;
  out = (*f)->getBuffer().str();
  return true;
}

/// The spec of a call: `arg` is its text, or with `isFile` its path (which
/// then names it in diagnostics). False with lastError set.
bool specOf(const char *fn, const char *arg, bool isFile, std::string &text, std::string &name) {
  if (!arg) {
    lastError = std::string(fn) + ": spec " + (isFile ? "path" : "text") + " is NULL";
    return false;
  }
  if (!isFile) {
    text = arg;
    name = "<spec>";
    return true;
  }
  if (!readFile(arg, text)) {
    lastError = std::string("cannot read spec file '") + arg + "'";
    return false;
  }
  name = arg;
  return true;
}

/// `tttc_options` as pipeline options (the deprecated "target:options"
/// strings translated, with a warning in `note`). False with lastError set.
bool optionsOf(const char *fn, const tttc_options *o, mlir::ttt::PipelineOptions &p,
               std::string &note) {
  if (!o) {
    lastError = std::string(fn) + ": options is NULL";
    return false;
  }
  p.headDim = o->head_dim;
  p.miniBatch = o->mini_batch;
  p.exactChunk = o->exact_chunk;
  std::string err, target = o->target ? o->target : "cpu";
  bool ok = target.find(':') != std::string::npos
                ? mlir::ttt::parseDeprecatedTarget(target, p, err, note)
                : p.parse("target=" + target, err);
  if (ok && o->arch)
    ok = p.parse(std::string("arch=") + o->arch, err);
  if (ok && o->io_dtype)
    ok = p.parse(std::string("io-dtype=") + o->io_dtype, err);
  if (ok && o->options)
    ok = p.parse(o->options, err);
  if (!ok)
    lastError = err;
  return ok;
}

/// The deprecation warning of the options first among the compilation's
/// remarks.
void addNote(const std::string &note) {
  if (!note.empty())
    tttc::compileNotes() = note + "\n" + tttc::compileNotes();
}

tttc_layer *compileWith(const char *fn, const char *arg, bool isFile, const tttc_options *o) {
  std::string text, name, note, err;
  mlir::ttt::PipelineOptions p;
  if (!specOf(fn, arg, isFile, text, name) || !optionsOf(fn, o, p, note))
    return nullptr;
  auto impl = tttc::CompiledLayer::compile(text, name, p, err);
  if (!impl)
    return failWith<tttc_layer *>(err, nullptr);
  addNote(note);
  lastError.clear();
  return new tttc_layer{std::move(impl)};
}

char *emitWith(const char *fn, const char *arg, bool isFile, const char *stage,
               const tttc_options *o) {
  tttc::Stage st;
  if (!stage || !tttc::parseStage(stage, st))
    return failWith<char *>(std::string("unknown stage '") + (stage ? stage : "(null)") +
                                "' (expected spec, after-autodiff, chunked, linalg, "
                                "gpu-kernel, llvm-dialect, llvm-ir or ptx)",
                            nullptr);
  std::string text, name, note, err;
  mlir::ttt::PipelineOptions p;
  if (!specOf(fn, arg, isFile, text, name) || !optionsOf(fn, o, p, note))
    return nullptr;
  std::string out = tttc::emit(text, name, st, p, err);
  if (out.empty())
    return failWith<char *>(err, nullptr);
  addNote(note);
  lastError.clear();
  return strdup(out.c_str());
}

int objectWith(const char *fn, const char *arg, bool isFile, const tttc_options *o,
               const char *objectPath, const char *headerPath) {
  if (!objectPath)
    return failWith(std::string(fn) + ": no object path given", 1);
  std::string text, name, note, err;
  mlir::ttt::PipelineOptions p;
  if (!specOf(fn, arg, isFile, text, name) || !optionsOf(fn, o, p, note))
    return 1;
  if (!tttc::compileToObject(text, name, p, objectPath, headerPath ? headerPath : "", err))
    return failWith(err, 1);
  addNote(note);
  lastError.clear();
  return 0;
}

std::vector<tttc::Tensor> toTensors(const tttc_tensor *ts, int n) {
  std::vector<tttc::Tensor> r;
  for (int i = 0; i < n; ++i) {
    tttc::Tensor t;
    t.name = ts[i].name ? ts[i].name : "";
    t.data = ts[i].data;
    if (ts[i].rank > 0 && ts[i].shape)
      t.shape.assign(ts[i].shape, ts[i].shape + ts[i].rank);
    r.push_back(std::move(t));
  }
  return r;
}
} // namespace

extern "C" {

const char *tttc_last_error(void) { return lastError.c_str(); }

int tttc_load_plugin(const char *path) {
  if (!path) {
    lastError = "tttc_load_plugin: path is NULL";
    return -1;
  }
  std::string error;
  if (!mlir::ttt::loadPlugin(path, error)) {
    lastError = "tttc_load_plugin: " + error;
    return -1;
  }
  lastError.clear();
  return 0;
}

tttc_options tttc_default_options(int64_t head_dim) {
  return tttc_options{head_dim, 0, TTTC_DEFAULT_EXACT_CHUNK, nullptr, nullptr, nullptr, nullptr};
}

tttc_layer *tttc_compile(const char *text, const tttc_options *o) {
  return compileWith("tttc_compile", text, false, o);
}

tttc_layer *tttc_compile_file(const char *path, const tttc_options *o) {
  return compileWith("tttc_compile_file", path, true, o);
}

const char *tttc_io_dtype(const tttc_layer *l) { return l ? l->impl->ioType().c_str() : ""; }
const char *tttc_matmul_precision(const tttc_layer *l) {
  return l ? l->impl->matmulPrecision().c_str() : "";
}

void tttc_destroy(tttc_layer *layer) { delete layer; }

const char *tttc_layer_name(const tttc_layer *l) {
  return l ? l->impl->signature().name.c_str() : "";
}
int64_t tttc_head_dim(const tttc_layer *l) { return l ? l->impl->signature().headDim : 0; }
int64_t tttc_mini_batch(const tttc_layer *l) {
  return l ? l->impl->signature().miniBatch : 0;
}
int64_t tttc_column_blocks(const tttc_layer *l) {
  return l ? l->impl->lastColumnBlocks() : 0;
}
int tttc_num_inputs(const tttc_layer *l) {
  return l ? int(l->impl->signature().inputs.size()) : 0;
}
int tttc_num_outputs(const tttc_layer *l) {
  return l ? int(l->impl->signature().outputs.size()) : 0;
}
const char *tttc_input_name(const tttc_layer *l, int i) {
  const ArgInfo *a = input(l, i);
  return a ? a->name.c_str() : nullptr;
}
const char *tttc_output_name(const tttc_layer *l, int i) {
  const ArgInfo *a = output(l, i);
  return a ? a->name.c_str() : nullptr;
}
int tttc_input_kind(const tttc_layer *l, int i) {
  const ArgInfo *a = input(l, i);
  return a ? int(a->kind) : -1;
}
int tttc_output_kind(const tttc_layer *l, int i) {
  const ArgInfo *a = output(l, i);
  return a ? int(a->kind) : -1;
}
int tttc_input_optional(const tttc_layer *l, int i) {
  const ArgInfo *a = input(l, i);
  return a ? int(a->optional) : 0;
}
int tttc_input_shape(const tttc_layer *l, int i, int64_t B, int64_t T, int64_t H,
                     int64_t shape[8]) {
  return shapeInto(input(l, i), l, B, T, H, shape);
}
int tttc_output_shape(const tttc_layer *l, int i, int64_t B, int64_t T, int64_t H,
                      int64_t shape[8]) {
  return shapeInto(output(l, i), l, B, T, H, shape);
}

int tttc_run(tttc_layer *l, const tttc_tensor *inputs, int num_inputs,
             const tttc_tensor *outputs, int num_outputs) {
  if (!l)
    return failWith("tttc_run: layer is NULL", 1);
  if ((num_inputs && !inputs) || (num_outputs && !outputs) || num_inputs < 0 ||
      num_outputs < 0)
    return failWith("tttc_run: tensor arrays are NULL or counts negative", 1);
  std::string err;
  if (!l->impl->run(toTensors(inputs, num_inputs), toTensors(outputs, num_outputs), err))
    return failWith(err, 1);
  lastError.clear();
  return 0;
}

int tttc_has_backward(const tttc_layer *l) { return l && l->impl->hasBackward() ? 1 : 0; }

int64_t tttc_saved_bytes(const tttc_layer *l, int64_t B, int64_t T, int64_t H) {
  if (!l || B < 1 || T < 1 || H < 1)
    return 0;
  return int64_t(l->impl->savedBytes(B, T, H));
}

int tttc_run_train(tttc_layer *l, const tttc_tensor *inputs, int num_inputs,
                   const tttc_tensor *outputs, int num_outputs, void *saved,
                   int64_t saved_bytes) {
  if (!l)
    return failWith("tttc_run_train: layer is NULL", 1);
  if ((num_inputs && !inputs) || (num_outputs && !outputs) || num_inputs < 0 ||
      num_outputs < 0 || saved_bytes < 0)
    return failWith("tttc_run_train: tensor arrays are NULL or counts negative", 1);
  std::string err;
  if (!l->impl->runForwardTrain(toTensors(inputs, num_inputs), toTensors(outputs, num_outputs),
                                saved, size_t(saved_bytes), err))
    return failWith(err, 1);
  lastError.clear();
  return 0;
}

namespace {
int runBackward(const char *fn, tttc_layer *l, const tttc_tensor *inputs, int num_inputs,
                const void *saved, int64_t saved_bytes, const tttc_tensor *cotangents,
                int num_cotangents, const tttc_tensor *grads, int num_grads) {
  if (!l)
    return failWith(std::string(fn) + ": layer is NULL", 1);
  if ((num_inputs && !inputs) || (num_cotangents && !cotangents) || (num_grads && !grads) ||
      num_inputs < 0 || num_cotangents < 0 || num_grads < 0 || saved_bytes < 0)
    return failWith(std::string(fn) + ": tensor arrays are NULL or counts negative", 1);
  std::string err;
  if (!l->impl->runBackward(toTensors(inputs, num_inputs), saved, size_t(saved_bytes),
                            toTensors(cotangents, num_cotangents), toTensors(grads, num_grads),
                            err))
    return failWith(err, 1);
  lastError.clear();
  return 0;
}
} // namespace

int tttc_run_backward_saved(tttc_layer *l, const tttc_tensor *inputs, int num_inputs,
                            const void *saved, int64_t saved_bytes,
                            const tttc_tensor *cotangents, int num_cotangents,
                            const tttc_tensor *grads, int num_grads) {
  if (!saved)
    return failWith("tttc_run_backward_saved: saved is NULL (tttc_run_backward runs the "
                    "training forward itself)", 1);
  return runBackward("tttc_run_backward_saved", l, inputs, num_inputs, saved, saved_bytes,
                     cotangents, num_cotangents, grads, num_grads);
}

int tttc_run_backward(tttc_layer *l, const tttc_tensor *inputs, int num_inputs,
                      const tttc_tensor *cotangents, int num_cotangents,
                      const tttc_tensor *grads, int num_grads) {
  return runBackward("tttc_run_backward", l, inputs, num_inputs, nullptr, 0, cotangents,
                     num_cotangents, grads, num_grads);
}

namespace {
/// cu_seqlens as a vector, or false with the reason.
bool seqlens(const char *fn, const int64_t *cu, int n, std::vector<int64_t> &r) {
  if (!cu || n < 1) {
    failWith(std::string(fn) + ": cu_seqlens is NULL or num_seqs < 1", 1);
    return false;
  }
  r.assign(cu, cu + n + 1);
  return true;
}

int varlenForward(const char *fn, tttc_layer *l, const tttc_tensor *inputs, int num_inputs,
                  const tttc_tensor *outputs, int num_outputs, const int64_t *cu, int n,
                  void *saved, int64_t saved_bytes, bool train, tttc::Placement at = {}) {
  if (!l)
    return failWith(std::string(fn) + ": layer is NULL", 1);
  if ((num_inputs && !inputs) || (num_outputs && !outputs) || num_inputs < 0 ||
      num_outputs < 0 || saved_bytes < 0)
    return failWith(std::string(fn) + ": tensor arrays are NULL or counts negative", 1);
  if (train && !saved)
    return failWith(std::string(fn) + ": saved is NULL", 1);
  if (train && !l->impl->hasBackward())
    return failWith(std::string(fn) + ": the layer was compiled without its backward "
                    "(option backward)", 1);
  std::vector<int64_t> c;
  if (!seqlens(fn, cu, n, c))
    return 1;
  std::string err;
  if (at.device && l->impl->options().target != mlir::ttt::Target::CUDA)
    return failWith(std::string(fn) + ": device buffers need a layer compiled for target cuda",
                    1);
  if (!tttc::runForwardTrainVarlen(*l->impl, toTensors(inputs, num_inputs),
                                   toTensors(outputs, num_outputs), c, saved,
                                   size_t(saved_bytes), err, at))
    return failWith(err, 1);
  lastError.clear();
  return 0;
}
} // namespace

int tttc_run_varlen(tttc_layer *l, const tttc_tensor *inputs, int num_inputs,
                    const tttc_tensor *outputs, int num_outputs, const int64_t *cu, int n) {
  return varlenForward("tttc_run_varlen", l, inputs, num_inputs, outputs, num_outputs, cu, n,
                       nullptr, 0, false);
}

int64_t tttc_saved_bytes_varlen(const tttc_layer *l, const int64_t *cu, int n, int64_t H) {
  if (!l || !cu || n < 1 || H < 1)
    return 0;
  return int64_t(tttc::savedBytesVarlen(*l->impl, std::vector<int64_t>(cu, cu + n + 1), H));
}

int tttc_run_train_varlen(tttc_layer *l, const tttc_tensor *inputs, int num_inputs,
                          const tttc_tensor *outputs, int num_outputs, const int64_t *cu,
                          int n, void *saved, int64_t saved_bytes) {
  return varlenForward("tttc_run_train_varlen", l, inputs, num_inputs, outputs, num_outputs,
                       cu, n, saved, saved_bytes, true);
}

namespace {
int backwardVarlen(const char *fn, tttc_layer *l, const tttc_tensor *inputs, int num_inputs,
                   const int64_t *cu, int n, const void *saved, int64_t saved_bytes,
                   const tttc_tensor *cotangents, int num_cotangents, const tttc_tensor *grads,
                   int num_grads, tttc::Placement at) {
  if (!l)
    return failWith(std::string(fn) + ": layer is NULL", 1);
  if ((num_inputs && !inputs) || (num_cotangents && !cotangents) || (num_grads && !grads) ||
      num_inputs < 0 || num_cotangents < 0 || num_grads < 0 || saved_bytes < 0)
    return failWith(std::string(fn) + ": tensor arrays are NULL or counts negative", 1);
  if (!saved)
    return failWith(std::string(fn) + ": saved is NULL (from the training forward)", 1);
  if (at.device && l->impl->options().target != mlir::ttt::Target::CUDA)
    return failWith(std::string(fn) + ": device buffers need a layer compiled for target cuda",
                    1);
  std::vector<int64_t> c;
  if (!seqlens(fn, cu, n, c))
    return 1;
  std::string err;
  if (!tttc::runBackwardVarlen(*l->impl, toTensors(inputs, num_inputs), c, saved,
                               size_t(saved_bytes), toTensors(cotangents, num_cotangents),
                               toTensors(grads, num_grads), err, at))
    return failWith(err, 1);
  lastError.clear();
  return 0;
}
} // namespace

int tttc_run_backward_varlen(tttc_layer *l, const tttc_tensor *inputs, int num_inputs,
                             const int64_t *cu, int n, const void *saved, int64_t saved_bytes,
                             const tttc_tensor *cotangents, int num_cotangents,
                             const tttc_tensor *grads, int num_grads) {
  return backwardVarlen("tttc_run_backward_varlen", l, inputs, num_inputs, cu, n, saved,
                        saved_bytes, cotangents, num_cotangents, grads, num_grads, {});
}

int tttc_run_varlen_cuda(tttc_layer *l, const tttc_tensor *inputs, int num_inputs,
                         const tttc_tensor *outputs, int num_outputs, const int64_t *cu, int n,
                         void *stream) {
  return varlenForward("tttc_run_varlen_cuda", l, inputs, num_inputs, outputs, num_outputs, cu,
                       n, nullptr, 0, false, {true, stream});
}

int tttc_run_train_varlen_cuda(tttc_layer *l, const tttc_tensor *inputs, int num_inputs,
                               const tttc_tensor *outputs, int num_outputs, const int64_t *cu,
                               int n, void *saved, int64_t saved_bytes, void *stream) {
  return varlenForward("tttc_run_train_varlen_cuda", l, inputs, num_inputs, outputs,
                       num_outputs, cu, n, saved, saved_bytes, true, {true, stream});
}

int tttc_run_backward_varlen_cuda(tttc_layer *l, const tttc_tensor *inputs, int num_inputs,
                                  const int64_t *cu, int n, const void *saved,
                                  int64_t saved_bytes, const tttc_tensor *cotangents,
                                  int num_cotangents, const tttc_tensor *grads, int num_grads,
                                  void *stream) {
  return backwardVarlen("tttc_run_backward_varlen_cuda", l, inputs, num_inputs, cu, n, saved,
                        saved_bytes, cotangents, num_cotangents, grads, num_grads,
                        {true, stream});
}

int64_t tttc_decode_state_bytes(const tttc_layer *l, int64_t B, int64_t H) {
  return l ? int64_t(tttc::decodeStateBytes(*l->impl, B, H)) : 0;
}

int tttc_decode_init(const tttc_layer *l, const tttc_tensor *inits, int num_inits, int64_t B,
                     int64_t H, void *state, int64_t state_bytes) {
  if (!l)
    return failWith("tttc_decode_init: layer is NULL", 1);
  if ((num_inits && !inits) || num_inits < 0 || state_bytes < 0)
    return failWith("tttc_decode_init: tensor array is NULL or a count negative", 1);
  std::string err;
  if (!tttc::decodeInit(*l->impl, toTensors(inits, num_inits), B, H, state,
                        size_t(state_bytes), err))
    return failWith(err, 1);
  lastError.clear();
  return 0;
}

int tttc_decode_step(tttc_layer *l, const tttc_tensor *inputs, int num_inputs, void *state,
                     int64_t state_bytes, const tttc_tensor *outputs, int num_outputs) {
  if (!l)
    return failWith("tttc_decode_step: layer is NULL", 1);
  if ((num_inputs && !inputs) || (num_outputs && !outputs) || num_inputs < 0 ||
      num_outputs < 0 || state_bytes < 0)
    return failWith("tttc_decode_step: tensor arrays are NULL or counts negative", 1);
  std::string err;
  if (!tttc::decodeStep(*l->impl, toTensors(inputs, num_inputs), state, size_t(state_bytes),
                        toTensors(outputs, num_outputs), err))
    return failWith(err, 1);
  lastError.clear();
  return 0;
}

int64_t tttc_decode_position(const void *state, int64_t state_bytes) {
  return state_bytes < 0 ? -1 : tttc::decodePosition(state, size_t(state_bytes));
}

namespace {
int checkGradientsWith(const char *fn, const tttc_layer *l, const tttc_tensor *inputs,
                       int num_inputs, const std::vector<int64_t> &cu,
                       const tttc_tensor *cotangents, int num_cotangents,
                       const tttc_tensor *grads, int num_grads, int directions, uint64_t seed,
                       double *rel_err) {
  if (!l)
    return failWith(std::string(fn) + ": layer is NULL", 1);
  if ((num_inputs && !inputs) || (num_cotangents && !cotangents) || (num_grads && !grads) ||
      num_inputs < 0 || num_cotangents < 0 || num_grads < 0 || directions < 1 ||
      (num_grads && !rel_err))
    return failWith(std::string(fn) + ": tensor arrays or rel_err NULL, counts negative or "
                                      "directions < 1",
                    1);
  std::string err;
  std::vector<double> rel;
  if (!l->impl->checkGradients(toTensors(inputs, num_inputs),
                               toTensors(cotangents, num_cotangents), toTensors(grads, num_grads),
                               directions, seed, rel, err, cu))
    return failWith(err, 1);
  for (int i = 0; i < num_grads; ++i)
    rel_err[i] = rel[i];
  lastError.clear();
  return 0;
}
} // namespace

int tttc_check_gradients(const tttc_layer *l, const tttc_tensor *inputs, int num_inputs,
                         const tttc_tensor *cotangents, int num_cotangents,
                         const tttc_tensor *grads, int num_grads, int directions, uint64_t seed,
                         double *rel_err) {
  return checkGradientsWith("tttc_check_gradients", l, inputs, num_inputs, {}, cotangents,
                            num_cotangents, grads, num_grads, directions, seed, rel_err);
}

int tttc_check_gradients_varlen(const tttc_layer *l, const tttc_tensor *inputs, int num_inputs,
                                const int64_t *cu, int n, const tttc_tensor *cotangents,
                                int num_cotangents, const tttc_tensor *grads, int num_grads,
                                int directions, uint64_t seed, double *rel_err) {
  const char *fn = "tttc_check_gradients_varlen";
  std::vector<int64_t> c;
  if (!seqlens(fn, cu, n, c))
    return 1;
  return checkGradientsWith(fn, l, inputs, num_inputs, c, cotangents, num_cotangents, grads,
                            num_grads, directions, seed, rel_err);
}

const char *tttc_last_notes(void) { return tttc::compileNotes().c_str(); }

int tttc_run_cuda(tttc_layer *l, const tttc_tensor *inputs, int num_inputs,
                  const tttc_tensor *outputs, int num_outputs, void *stream) {
  if (!l)
    return failWith("tttc_run_cuda: layer is NULL", 1);
  if ((num_inputs && !inputs) || (num_outputs && !outputs) || num_inputs < 0 ||
      num_outputs < 0)
    return failWith("tttc_run_cuda: tensor arrays are NULL or counts negative", 1);
  std::string err;
  if (!l->impl->runOnDevice(toTensors(inputs, num_inputs), toTensors(outputs, num_outputs),
                            stream, err))
    return failWith(err, 1);
  lastError.clear();
  return 0;
}

int tttc_run_train_cuda(tttc_layer *l, const tttc_tensor *inputs, int num_inputs,
                        const tttc_tensor *outputs, int num_outputs, void *saved,
                        int64_t saved_bytes, void *stream) {
  if (!l)
    return failWith("tttc_run_train_cuda: layer is NULL", 1);
  if ((num_inputs && !inputs) || (num_outputs && !outputs) || num_inputs < 0 ||
      num_outputs < 0 || saved_bytes < 0)
    return failWith("tttc_run_train_cuda: tensor arrays are NULL or counts negative", 1);
  std::string err;
  if (!l->impl->runForwardTrainOnDevice(toTensors(inputs, num_inputs),
                                        toTensors(outputs, num_outputs), saved,
                                        size_t(saved_bytes), stream, err))
    return failWith(err, 1);
  lastError.clear();
  return 0;
}

int tttc_run_backward_cuda(tttc_layer *l, const tttc_tensor *inputs, int num_inputs,
                           const void *saved, int64_t saved_bytes,
                           const tttc_tensor *cotangents, int num_cotangents,
                           const tttc_tensor *grads, int num_grads, void *stream) {
  if (!l)
    return failWith("tttc_run_backward_cuda: layer is NULL", 1);
  if ((num_inputs && !inputs) || (num_cotangents && !cotangents) || (num_grads && !grads) ||
      num_inputs < 0 || num_cotangents < 0 || num_grads < 0 || saved_bytes < 0)
    return failWith("tttc_run_backward_cuda: tensor arrays are NULL or counts negative", 1);
  std::string err;
  if (!l->impl->runBackwardOnDevice(toTensors(inputs, num_inputs), saved, size_t(saved_bytes),
                                    toTensors(cotangents, num_cotangents),
                                    toTensors(grads, num_grads), stream, err))
    return failWith(err, 1);
  lastError.clear();
  return 0;
}

int tttc_run_reference(tttc_layer *l, const tttc_tensor *inputs, int num_inputs,
                       const tttc_tensor_f64 *outputs, int num_outputs) {
  if (!l)
    return failWith("tttc_run_reference: layer is NULL", 1);
  if ((num_inputs && !inputs) || (num_outputs && !outputs) || num_inputs < 0 ||
      num_outputs < 0)
    return failWith("tttc_run_reference: tensor arrays are NULL or counts negative", 1);
  std::vector<std::vector<double>> results;
  std::string err;
  std::vector<tttc::Tensor> ins = toTensors(inputs, num_inputs);
  if (!l->impl->runReference(ins, results, err))
    return failWith(err, 1);
  const auto &sig = l->impl->signature();
  for (int i = 0; i < num_outputs; ++i) {
    const tttc_tensor_f64 &o = outputs[i];
    std::string name = o.name ? o.name : "";
    size_t k = 0;
    while (k < sig.outputs.size() && sig.outputs[k].name != name)
      ++k;
    if (k == sig.outputs.size())
      return failWith("unknown output '" + name + "'", 1);
    size_t n = 1;
    for (int d = 0; d < o.rank; ++d)
      n *= size_t(o.shape[d]);
    if (!o.data || n != results[k].size())
      return failWith("output '" + name + "' has the wrong size or no data", 1);
    std::copy(results[k].begin(), results[k].end(), o.data);
  }
  lastError.clear();
  return 0;
}

char *tttc_emit(const char *text, const char *stage, const tttc_options *o) {
  return emitWith("tttc_emit", text, false, stage, o);
}

char *tttc_emit_file(const char *path, const char *stage, const tttc_options *o) {
  return emitWith("tttc_emit_file", path, true, stage, o);
}

int tttc_compile_to_object(const char *text, const tttc_options *o, const char *object_path,
                           const char *header_path) {
  return objectWith("tttc_compile_to_object", text, false, o, object_path, header_path);
}

int tttc_compile_file_to_object(const char *path, const tttc_options *o,
                                const char *object_path, const char *header_path) {
  return objectWith("tttc_compile_file_to_object", path, true, o, object_path, header_path);
}

void tttc_free_string(char *s) { free(s); }

} // extern "C"
