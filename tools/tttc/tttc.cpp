//===- tttc.cpp - the tttc compiler driver --------------------------------===//
//
//   tttc SPEC --emit=STAGE [-o FILE]                       (EmitCommand.cpp)
//   tttc run SPEC [--input NAME=FILE.npy]... [--check] ... (RunCommand.cpp)
//   tttc compile SPEC --head-dim=D -o OUT.o                (CompileCommand.cpp)
//   tttc compile SPEC --target=cuda --emit=ptx|cubin -o OUT
//
// Every pipeline option (dialect/Pipelines.h: --head-dim, --target,
// --mma-n-tiles, ...) is a flag, spelled as ttt-opt's pipelines and the C
// API's tttc_options.options spell it; `tttc --help` lists them all.
//
//===----------------------------------------------------------------------===//

#include "Driver.h"

#include "dialect/Pipelines.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>
#include <cstring>

using namespace llvm;
using tttc::driver::Invocation;

namespace {
cl::OptionCategory tttcCategory("tttc options");
cl::OptionCategory pipelineCategory(
    "Pipeline options (as in ttt-opt --ttt-cpu-pipeline=\"...\" and tttc_options.options)");

cl::list<std::string> positional(cl::Positional, cl::desc("[run|compile] SPEC"),
                                 cl::cat(tttcCategory));
cl::list<std::string> plugins(
    "plugin",
    cl::desc("load a tttc plugin (a shared library of update rules built against this "
             "tttc; repeatable) before compiling: as tttc_load_plugin"),
    cl::value_desc("LIB.so"), cl::cat(tttcCategory));
cl::opt<std::string> emitStage(
    "emit",
    cl::desc("tttc SPEC: the stage to print: spec, after-autodiff, chunked, linalg, "
             "gpu-kernel, llvm-dialect, llvm-ir, object, ptx; tttc compile --target=cuda: "
             "ptx or cubin"),
    cl::cat(tttcCategory));
cl::opt<std::string> output("o", cl::desc("output file"), cl::value_desc("FILE"),
                            cl::cat(tttcCategory));
cl::opt<std::string> outputDir("output-dir", cl::desc("run: write the outputs as DIR/NAME.npy"),
                               cl::value_desc("DIR"), cl::cat(tttcCategory));
cl::opt<std::string> header("header",
                            cl::desc("compile (cpu): the C header's path (default OUT.h)"),
                            cl::cat(tttcCategory));
cl::list<std::string> inputs("input", cl::desc("run: an input, NAME=FILE.npy (float32)"),
                             cl::value_desc("NAME=FILE.npy"), cl::cat(tttcCategory));
cl::opt<int64_t> batch("batch", cl::desc("run: B of random inputs"), cl::init(2),
                       cl::cat(tttcCategory));
cl::opt<int64_t> seqLen("seq-len", cl::desc("run: T of random inputs"), cl::init(64),
                        cl::cat(tttcCategory));
cl::opt<int64_t> heads("heads", cl::desc("run: H of random inputs"), cl::init(2),
                       cl::cat(tttcCategory));
cl::opt<int64_t> repeat("repeat", cl::desc("run: time N more runs, print median_ms="),
                        cl::init(0), cl::cat(tttcCategory));
cl::opt<uint64_t> seed("seed", cl::desc("run: the random inputs' seed"), cl::init(0),
                       cl::cat(tttcCategory));
cl::opt<bool> check("check",
                    cl::desc("run: compare every output with the float64 per-token reference "
                             "interpreter (max |out - ref| / max |ref|)"),
                    cl::cat(tttcCategory));
cl::opt<bool> saveInputs("save-inputs", cl::desc("run: also write the inputs to DIR/inputs/"),
                         cl::cat(tttcCategory));
cl::opt<bool> grad("grad",
                   cl::desc("run: also the outer-loop backward (compiles with 'backward'): "
                            "DIR/grad_NAME.npy for every input; with --check, each gradient "
                            "against the float64 reference's directional derivatives"),
                   cl::cat(tttcCategory));
cl::opt<std::string> cuSeqlens(
    "cu-seqlens",
    cl::desc("run: a packed batch of N sequences along T of one batch row: their N + 1 token "
             "offsets, FILE.npy (int32 or int64) or a list 0,5,22,32; each sequence starts from "
             "the initial state, final states [N, H, ...]"),
    cl::value_desc("FILE.npy|LIST"), cl::cat(tttcCategory));
cl::opt<int64_t> decodeBlock("decode-block",
                             cl::desc("run --decode: tokens per decode step (default 1); "
                                      "with --decode, tttc run decodes the sequence "
                                      "again, this many tokens per step from the same "
                                      "initial states, against the chunked forward"),
                             cl::init(1), cl::cat(tttcCategory));
cl::list<std::string> gradOutputs(
    "grad-output",
    cl::desc("run --grad: the cotangent of an output, NAME=FILE.npy (float32; outputs without "
             "one get zero; none given: seeded random cotangents for every output)"),
    cl::value_desc("NAME=FILE.npy"), cl::cat(tttcCategory));

const char *kOverview = R"(tttc: compile test-time-training layer specs

  tttc SPEC --emit=STAGE [-o FILE]
  tttc run SPEC [--input NAME=FILE.npy]... [--output-dir DIR] [--check] [--repeat N]
           [--grad [--grad-output NAME=FILE.npy]...] [--cu-seqlens FILE.npy|0,5,22]
           [--decode [--decode-block N]]
      Without --input, seeded random inputs of shape B, T, H, D are generated
      (defaults 2, 64, 2, 64). With a 16-bit --io-dtype, .npy files stay
      float32 (inputs are rounded to the I/O type first; readouts are checked
      to 1e-2 (bf16) or 1e-3 (f16), everything else to 1e-5; tf32 and tf32-rz
      tensor-core operands: 2e-2 and 1e-1).
  tttc compile SPEC --head-dim=D -o OUT.o [--header OUT.h]
  tttc compile SPEC --target=cuda [--arch=sm_80|sm_90|sm_90a] --emit=ptx|cubin -o OUT
      PTX (tttc_cuda_load_ptx, include/tttc/tttc_cuda.h) or a cubin assembled
      by ptxas with its calling convention in OUT.tttc.
)";

/// The deprecated `--target=KIND:OPTIONS` (and `--target KIND:OPTIONS`):
/// into `--target=KIND` and the options as flags, with a warning.
std::vector<std::string> translateDeprecatedTarget(int argc, char **argv) {
  std::vector<std::string> args(argv, argv + argc);
  for (size_t i = 1; i < args.size(); ++i) {
    std::string value;
    size_t at = i;
    if (args[i].rfind("--target=", 0) == 0) {
      value = args[i].substr(9);
    } else if (args[i] == "--target" && i + 1 < args.size()) {
      value = args[i + 1];
      at = i + 1;
    } else {
      continue;
    }
    if (value.find(':') == std::string::npos)
      continue;
    mlir::ttt::PipelineOptions o;
    std::string error, note;
    if (!mlir::ttt::parseDeprecatedTarget(value, o, error, note)) {
      std::fprintf(stderr, "tttc: error: %s\n", error.c_str());
      std::exit(1);
    }
    std::fprintf(stderr, "tttc: %s\n", note.c_str());
    // The translated words: target=KIND, then the options.
    std::vector<std::string> flags;
    std::string words = mlir::ttt::deprecatedTargetWords(value);
    for (StringRef w : llvm::split(words, ' '))
      if (!w.empty())
        flags.push_back("--" + w.str());
    args.erase(args.begin() + i, args.begin() + at + 1);
    args.insert(args.begin() + i, flags.begin(), flags.end());
    i += flags.size() - 1;
  }
  return args;
}
} // namespace

int main(int argc, char **argv) {
  mlir::ttt::PipelineOptions pipeline;
  pipeline.registerAsCommandLine(pipelineCategory);
  cl::HideUnrelatedOptions({&tttcCategory, &pipelineCategory});
  std::vector<std::string> args = translateDeprecatedTarget(argc, argv);
  std::vector<const char *> cargs;
  for (const std::string &s : args)
    cargs.push_back(s.c_str());
  if (!cl::ParseCommandLineOptions(int(cargs.size()), cargs.data(), kOverview, &llvm::errs()))
    return 1;

  Invocation a;
  std::vector<std::string> rest(positional.begin(), positional.end());
  if (!rest.empty() && (rest[0] == "run" || rest[0] == "compile")) {
    a.command = rest[0];
    rest.erase(rest.begin());
  }
  if (rest.size() != 1)
    return tttc::driver::die(rest.empty() ? "no spec file given (tttc --help)"
                                          : "more than one spec file given");
  a.spec = rest[0];
  a.emit = emitStage;
  a.out = output;
  a.outputDir = outputDir;
  a.header = header;
  for (const std::string &in : inputs) {
    size_t eq = in.find('=');
    if (eq == std::string::npos || eq == 0)
      return tttc::driver::die("--input expects NAME=FILE.npy, got '" + in + "'");
    a.inputs.push_back({in.substr(0, eq), in.substr(eq + 1)});
  }
  a.batch = batch;
  a.seqLen = seqLen;
  a.heads = heads;
  a.repeat = repeat;
  a.seed = seed;
  a.check = check;
  a.saveInputs = saveInputs;
  a.grad = grad;
  a.cuSeqlens = cuSeqlens;
  if (!a.cuSeqlens.empty() && (batch.getNumOccurrences() || seqLen.getNumOccurrences()))
    return tttc::driver::die("--cu-seqlens fixes the batch (one row) and its length "
                             "(cu_seqlens' last offset): not also --batch or --seq-len");
  // The pipeline option `decode` (the decode step compiled): tttc run
  // then decodes the sequence too.
  a.decode = pipeline.decode;
  a.decodeBlock = decodeBlock;
  if (decodeBlock.getNumOccurrences() && !a.decode)
    return tttc::driver::die("--decode-block needs --decode");
  if (a.decodeBlock < 1)
    return tttc::driver::die("--decode-block must be at least 1, got " +
                             std::to_string(a.decodeBlock));
  if (a.decode && !a.cuSeqlens.empty())
    return tttc::driver::die("--decode with --cu-seqlens: decode one batch of equal-length "
                             "rows (a decoder state per packed sequence is not in the CLI)");
  for (const std::string &g : gradOutputs) {
    size_t eq = g.find('=');
    if (eq == std::string::npos || eq == 0)
      return tttc::driver::die("--grad-output expects NAME=FILE.npy, got '" + g + "'");
    a.gradOutputs.push_back({g.substr(0, eq), g.substr(eq + 1)});
  }
  if (!a.gradOutputs.empty() && !a.grad)
    return tttc::driver::die("--grad-output needs --grad");
  // The pipeline options: their values, and the ones given (which the C API
  // checks against the target).
  a.headDim = pipeline.headDim.getNumOccurrences() ? int64_t(pipeline.headDim) : 0;
  a.miniBatch = pipeline.miniBatch;
  a.exactChunk = pipeline.exactChunk;
  a.target = mlir::ttt::PipelineOptions::spelling(pipeline.target).str();
  a.arch = pipeline.arch;
  a.ioDtype = mlir::ttt::PipelineOptions::spelling(pipeline.ioDType).str();
  a.pipelineOptions = pipeline.givenStr();
  if (a.grad && !pipeline.backward)
    a.pipelineOptions += a.pipelineOptions.empty() ? "backward" : " backward";
  for (const std::string &p : plugins)
    if (tttc_load_plugin(p.c_str()) != 0)
      return tttc::driver::die(tttc_last_error());
  if (a.command == "run")
    return tttc::driver::runCommand(a);
  if (a.command == "compile")
    return tttc::driver::compileCommand(a);
  return tttc::driver::emitCommand(a);
}

namespace tttc::driver {
void printNotes() {
  const char *n = tttc_last_notes();
  if (n && *n)
    std::fprintf(stderr, "%s%s", n, n[std::strlen(n) - 1] == '\n' ? "" : "\n");
}

int die(const std::string &msg) {
  std::fprintf(stderr, "tttc: error: %s\n", msg.c_str());
  return 1;
}

std::string shapeStr(const std::vector<int64_t> &s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i)
    r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}
} // namespace tttc::driver
