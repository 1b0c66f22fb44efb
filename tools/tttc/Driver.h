//===- Driver.h - what tttc's subcommands share ------------------*- C++ -*-===//
//
// tttc parses its command line once (tttc.cpp: its own flags and every
// pipeline option of dialect/Pipelines.h, by llvm::cl) into an Invocation,
// then runs one subcommand: emit (EmitCommand.cpp), run (RunCommand.cpp) or
// compile (CompileCommand.cpp), each a user of the C API alone.
//
//===----------------------------------------------------------------------===//
#ifndef TTTC_TOOLS_TTTC_DRIVER_H
#define TTTC_TOOLS_TTTC_DRIVER_H

#include "tttc/tttc.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tttc::driver {

struct Invocation {
  std::string command, spec;
  // tttc's own flags.
  std::string emit, out, outputDir, header;
  std::vector<std::pair<std::string, std::string>> inputs;
  int64_t batch = 2, seqLen = 64, heads = 2, repeat = 0;
  uint64_t seed = 0;
  bool check = false, saveInputs = false;
  /// --grad: the backward too; --grad-output NAME=FILE cotangents.
  bool grad = false;
  std::vector<std::pair<std::string, std::string>> gradOutputs;
  /// --cu-seqlens: a packed batch's offsets (FILE.npy or "0,5,22,32").
  std::string cuSeqlens;
  /// --decode: the sequence again through the decode step, decodeBlock
  /// tokens at a time (--decode-block), against the forward.
  bool decode = false;
  int64_t decodeBlock = 1;
  // The pipeline options (values, and which were given).
  int64_t headDim = 0; // 0: not given
  int64_t miniBatch = 0, exactChunk = TTTC_DEFAULT_EXACT_CHUNK;
  std::string target = "cpu", arch = "sm_80", ioDtype = "f32";
  /// The pipeline options given on the command line, "key=value ..." (the
  /// C API's tttc_options.options).
  std::string pipelineOptions;

  /// The C API's options for head dimension `d`.
  tttc_options capi(int64_t d) const {
    tttc_options o = tttc_default_options(d);
    o.mini_batch = miniBatch;
    o.exact_chunk = exactChunk;
    o.target = target.c_str();
    o.arch = arch.c_str();
    o.io_dtype = ioDtype.c_str();
    o.options = pipelineOptions.c_str();
    return o;
  }
};

/// What `tttc run` hands its --grad part (RunGrad.cpp): the compiled layer,
/// its inputs as float32 (`ins`) and as the kernel takes them (`kIns`), the
/// output shapes, the batch, length and heads.
struct RunState {
  tttc_layer *layer;
  std::vector<tttc_tensor> ins, kIns, kOuts;
  std::vector<std::vector<int64_t>> outShapes;
  bool io16, bf16;
  int64_t B, T, H;
  /// A packed batch's N + 1 offsets (empty: none).
  std::vector<int64_t> cu;
};
/// --grad: the backward, its check and timing; the exit code.
int runGrad(const Invocation &a, RunState &s, uint64_t seed);
/// --decode: the decoder against the forward's outputs (in s.kOuts) to
/// `tolerance`, and its timing; the exit code.
int runDecode(const Invocation &a, RunState &s, double tolerance);

int emitCommand(const Invocation &a);
int runCommand(const Invocation &a);
int compileCommand(const Invocation &a);

/// "tttc: error: MSG" on stderr; returns 1.
int die(const std::string &msg);
/// Remarks of the last compilation (slower strategies chosen), on stderr.
void printNotes();
/// mkdir -p.
void makeDirs(const std::string &path);
/// A monotonic clock in milliseconds.
double nowMs();
/// "[a, b, c]".
std::string shapeStr(const std::vector<int64_t> &s);

} // namespace tttc::driver

#endif
