//===- CAPI.cpp - the tttc C API ------------------------------------------===//

#include "tttc/tttc.h"

#include "../Runtime/Runtime.h"

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

tttc_layer *compileNamed(const std::string &text, const std::string &name, int64_t d,
                         int64_t c, int64_t exactChunk = TTTC_DEFAULT_EXACT_CHUNK,
                         const std::string &target = "cpu", const std::string &io = "f32") {
  std::string err;
  auto impl = tttc::CompiledLayer::compile(text, name, d, c, err, exactChunk, target, io);
  if (!impl)
    return failWith<tttc_layer *>(err, nullptr);
  lastError.clear();
  return new tttc_layer{std::move(impl)};
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

tttc_layer *tttc_compile(const char *text, int64_t head_dim, int64_t mini_batch) {
  if (!text)
    return failWith<tttc_layer *>("tttc_compile: spec text is NULL", nullptr);
  return compileNamed(text, "<spec>", head_dim, mini_batch);
}

tttc_layer *tttc_compile_file(const char *path, int64_t head_dim, int64_t mini_batch) {
  std::string text;
  if (!path || !readFile(path, text))
    return failWith<tttc_layer *>(std::string("cannot read spec file '") +
                                      (path ? path : "(null)") + "'",
                                  nullptr);
  return compileNamed(text, path, head_dim, mini_batch);
}

tttc_layer *tttc_compile_file_ex(const char *path, int64_t head_dim, int64_t mini_batch,
                                 int64_t exact_chunk, const char *target) {
  std::string text;
  if (!path || !readFile(path, text))
    return failWith<tttc_layer *>(std::string("cannot read spec file '") +
                                      (path ? path : "(null)") + "'",
                                  nullptr);
  return compileNamed(text, path, head_dim, mini_batch, exact_chunk, target ? target : "cpu");
}

tttc_options tttc_default_options(int64_t head_dim) {
  return tttc_options{head_dim, 0, TTTC_DEFAULT_EXACT_CHUNK, nullptr, nullptr};
}

tttc_layer *tttc_compile_opts(const char *text, const tttc_options *o) {
  if (!text || !o)
    return failWith<tttc_layer *>("tttc_compile_opts: spec text or options is NULL", nullptr);
  return compileNamed(text, "<spec>", o->head_dim, o->mini_batch, o->exact_chunk,
                      o->target ? o->target : "cpu", o->io_dtype ? o->io_dtype : "f32");
}

tttc_layer *tttc_compile_file_opts(const char *path, const tttc_options *o) {
  std::string text;
  if (!path || !readFile(path, text))
    return failWith<tttc_layer *>(std::string("cannot read spec file '") +
                                      (path ? path : "(null)") + "'",
                                  nullptr);
  if (!o)
    return failWith<tttc_layer *>("tttc_compile_file_opts: options is NULL", nullptr);
  return compileNamed(text, path, o->head_dim, o->mini_batch, o->exact_chunk,
                      o->target ? o->target : "cpu", o->io_dtype ? o->io_dtype : "f32");
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

static char *emitNamed(const std::string &text, const std::string &name,
                       const char *stage, int64_t head_dim, int64_t mini_batch,
                       const char *arch = "sm_80",
                       int64_t exactChunk = TTTC_DEFAULT_EXACT_CHUNK,
                       const char *target = "cpu", const char *io = "f32") {
  tttc::Stage st;
  if (!stage || !tttc::parseStage(stage, st))
    return failWith<char *>(std::string("unknown stage '") + (stage ? stage : "(null)") +
                                "' (expected spec, after-autodiff, chunked, linalg, "
                                "gpu-kernel, llvm-dialect, llvm-ir or ptx)",
                            nullptr);
  std::string err;
  std::string out = tttc::emit(text, name, st, head_dim, mini_batch, err, arch ? arch : "sm_80",
                               exactChunk, target ? target : "cpu", io ? io : "f32");
  if (out.empty())
    return failWith<char *>(err, nullptr);
  lastError.clear();
  return strdup(out.c_str());
}

char *tttc_emit_file_opts(const char *path, const char *stage, const tttc_options *o,
                          const char *arch) {
  std::string text;
  if (!path || !readFile(path, text))
    return failWith<char *>(std::string("cannot read spec file '") + (path ? path : "(null)") +
                                "'",
                            nullptr);
  if (!o)
    return failWith<char *>("tttc_emit_file_opts: options is NULL", nullptr);
  return emitNamed(text, path, stage, o->head_dim, o->mini_batch, arch, o->exact_chunk,
                   o->target, o->io_dtype);
}


static int objectNamed(const std::string &text, const std::string &name, int64_t head_dim,
                       int64_t mini_batch, const char *object_path,
                       const char *header_path) {
  if (!object_path)
    return failWith("tttc: no object path given", 1);
  std::string err;
  if (!tttc::compileToObject(text, name, head_dim, mini_batch, object_path,
                             header_path ? header_path : "", err))
    return failWith(err, 1);
  lastError.clear();
  return 0;
}

char *tttc_emit(const char *text, const char *stage, int64_t head_dim, int64_t mini_batch) {
  if (!text)
    return failWith<char *>("tttc_emit: spec text is NULL", nullptr);
  return emitNamed(text, "<spec>", stage, head_dim, mini_batch);
}

char *tttc_emit_file_arch(const char *path, const char *stage, int64_t head_dim,
                          int64_t mini_batch, const char *arch) {
  std::string text;
  if (!path || !readFile(path, text))
    return failWith<char *>(std::string("cannot read spec file '") +
                                (path ? path : "(null)") + "'",
                            nullptr);
  return emitNamed(text, path, stage, head_dim, mini_batch, arch);
}

char *tttc_emit_file(const char *path, const char *stage, int64_t head_dim,
                     int64_t mini_batch) {
  std::string text;
  if (!path || !readFile(path, text))
    return failWith<char *>(std::string("cannot read spec file '") +
                                (path ? path : "(null)") + "'",
                            nullptr);
  return emitNamed(text, path, stage, head_dim, mini_batch);
}

int tttc_compile_to_object(const char *text, int64_t head_dim, int64_t mini_batch,
                           const char *object_path, const char *header_path) {
  if (!text)
    return failWith("tttc_compile_to_object: spec text is NULL", 1);
  return objectNamed(text, "<spec>", head_dim, mini_batch, object_path, header_path);
}

int tttc_compile_file_to_object(const char *path, int64_t head_dim, int64_t mini_batch,
                                const char *object_path, const char *header_path) {
  std::string text;
  if (!path || !readFile(path, text))
    return failWith(std::string("cannot read spec file '") + (path ? path : "(null)") + "'",
                    1);
  return objectNamed(text, path, head_dim, mini_batch, object_path, header_path);
}

void tttc_free_string(char *s) { free(s); }

} // extern "C"
