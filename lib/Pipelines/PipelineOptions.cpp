//===- PipelineOptions.cpp - the one options type of the pipelines --------===//
//
// What MLIR's option parser cannot check of `PipelineOptions` (ranges,
// combinations, options of one target only), its text form, its use as a
// driver's command-line flags, and the deprecated target strings
// ("cuda-emu:check-races,threads=64") translated into options.
//
//===----------------------------------------------------------------------===//

#include "dialect/Pipelines.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::ttt;

llvm::raw_ostream &mlir::ttt::operator<<(llvm::raw_ostream &os, const AutoInt &v) {
  if (v.isAuto())
    return os << "auto";
  return os << v.value;
}

bool llvm::cl::parser<AutoInt>::parse(Option &o, StringRef argName, StringRef arg, AutoInt &v) {
  if (arg == "auto") {
    v = 0;
    return false;
  }
  int64_t n;
  if (arg.getAsInteger(0, n) || n == 0)
    return o.error("'" + arg + "' value invalid: expected a positive integer or auto");
  v = n;
  return false;
}

void llvm::cl::parser<AutoInt>::printOptionDiff(const Option &o, AutoInt v,
                                                 OptionValue<AutoInt> def,
                                                 size_t globalWidth) const {
  printOptionName(o, globalWidth);
  std::string s;
  llvm::raw_string_ostream os(s);
  os << v;
  outs() << "= " << s << "\n";
}

void llvm::cl::parser<AutoInt>::anchor() {}

PipelineOptions &PipelineOptions::operator=(const PipelineOptions &other) {
  if (this == &other)
    return *this;
  copyOptionValuesFrom(other);
  libdevice = other.libdevice;
  gpuSharedKB = other.gpuSharedKB;
  gpuOccupancyKB = other.gpuOccupancyKB;
  return *this;
}

llvm::StringRef PipelineOptions::matmulPrecision() const {
  return gpu() && tensorCores && gpuThreads > 1 ? spelling(mmaPrecision) : "f32";
}

bool PipelineOptions::verify(std::string &error) const {
  auto range = [&](int64_t v, const char *name, int64_t lo, int64_t hi) {
    if (v >= lo && v <= hi)
      return true;
    error = std::string(name) + " must be in [" + std::to_string(lo) + ", " +
            std::to_string(hi) + "], got " + std::to_string(v);
    return false;
  };
  if (headDim <= 0) {
    error = "head dimension must be positive, got " + std::to_string(headDim);
    return false;
  }
  if (miniBatch < 0) {
    error = "mini-batch size must be positive, got " + std::to_string(miniBatch);
    return false;
  }
  if (exactChunk <= 0) {
    error = "exact chunk size must be positive, got " + std::to_string(exactChunk);
    return false;
  }
  if (!range(columnBlocks.getValue(), "column-blocks", 0, 1024) || !range(gpuThreads, "gpu-threads", 1, 1024) ||
      !range(mmaChains, "mma-chains", 1, 3) || !range(mmaNTiles.getValue(), "mma-n-tiles", 0, 8) ||
      !range(prefetch, "prefetch", 0, 64) || !range(minPrograms, "min-programs", 1, 32) ||
      !range(backwardCheckpoint, "backward-checkpoint", 1, 1 << 20))
    return false;
  if (mmaPrecision != MmaPrecision::TF32x3 && mmaChains != 1) {
    error = "mma-chains applies to the three products of mma-precision=tf32x3";
    return false;
  }
  if (backwardCheckpoint != 1 && !backward) {
    error = "backward-checkpoint applies to the backward (option backward)";
    return false;
  }

  // Options of one target only: set for another, they are an error (never
  // silently ignored).
  if (target != Target::CUDAEmu) {
    for (auto [set, name] : {std::pair{bool(checkRaces), "check-races"},
                             {bool(countOps) || bool(countPhases), "count-ops"},
                             {fault != Fault::None, "fault"}})
      if (set) {
        error = std::string(name) + " is an option of cuda-emu";
        return false;
      }
  }
  if (target != Target::CPU && cpuThreads.hasValue()) {
    error = "cpu-threads is an option of target cpu";
    return false;
  }
  if (!range(cpuThreads, "cpu-threads", 0, 1024))
    return false;
  if (target == Target::CPU) {
    std::pair<bool, llvm::StringRef> gpuOnly[] = {
        {gpuThreads.hasValue(), gpuThreads.ArgStr},
        {tensorCores.hasValue(), tensorCores.ArgStr},
        {mmaChains.hasValue(), mmaChains.ArgStr},
        {mmaPrecision.hasValue(), mmaPrecision.ArgStr},
        {mmaNTiles.hasValue(), mmaNTiles.ArgStr},
        {warpRotate.hasValue(), warpRotate.ArgStr},
        {mmaKSplit.hasValue(), mmaKSplit.ArgStr},
        {staticRounds.hasValue(), staticRounds.ArgStr},
        {rowWarps.hasValue(), rowWarps.ArgStr},
        {packBuffers.hasValue(), packBuffers.ArgStr},
        {schedule.hasValue(), schedule.ArgStr},
        {prefetch.hasValue(), prefetch.ArgStr},
        {minPrograms.hasValue(), minPrograms.ArgStr},
        {tidPerChunk.hasValue(), tidPerChunk.ArgStr}};
    for (auto [set, name] : gpuOnly)
      if (set) {
        error = name.str() + " is an option of the GPU targets (cuda, cuda-emu)";
        return false;
      }
  }
  if (columnBlocks.getValue().isAuto() && target != Target::CUDA) {
    error = "column-blocks=auto is chosen per launch by a layer compiled for target cuda; "
            "other targets need a count (column-blocks=N)";
    return false;
  }
  return true;
}

bool PipelineOptions::parse(llvm::StringRef text, std::string &error) {
  // One option at a time, so that an error names the option it is about.
  llvm::SmallVector<llvm::StringRef> words;
  llvm::SplitString(text, words);
  for (llvm::StringRef w : words) {
    std::string msg;
    llvm::raw_string_ostream os(msg);
    if (succeeded(parseFromString(w, os)))
      continue;
    llvm::StringRef key = w.split('=').first;
    error = OptionsMap.count(key)
                ? "invalid value in option '" + w.str() + "'"
                : "unknown option '" + key.str() + "' (tttc --help and ttt-opt --help "
                  "list the pipeline options)";
    if (llvm::StringRef m = llvm::StringRef(msg).trim(); !m.empty())
      error += ": " + m.str();
    return false;
  }
  return true;
}

std::string PipelineOptions::str() const {
  std::string s;
  llvm::raw_string_ostream os(s);
  print(os);
  llvm::StringRef r(s);
  return r.consume_front("{") && r.consume_back("}") ? r.trim().str() : r.str();
}

std::string PipelineOptions::givenStr() const {
  std::string given;
  llvm::SmallVector<llvm::StringRef> words;
  std::string all = str();
  llvm::SplitString(all, words);
  for (llvm::StringRef w : words) {
    auto it = OptionsMap.find(w.split('=').first);
    if (it != OptionsMap.end() && it->second->getNumOccurrences())
      given += (given.empty() ? "" : " ") + w.str();
  }
  return given;
}

void PipelineOptions::registerAsCommandLine(llvm::cl::OptionCategory &category) {
  llvm::SmallVector<llvm::cl::Option *> opts;
  for (auto &entry : OptionsMap)
    opts.push_back(entry.second);
  for (llvm::cl::Option *o : opts) {
    o->removeArgument();
    o->addSubCommand(llvm::cl::SubCommand::getTopLevel());
    o->addCategory(category);
    o->addArgument();
  }
  onCommandLine = true;
}

PipelineOptions::~PipelineOptions() {
  if (!onCommandLine)
    return;
  llvm::SmallVector<llvm::cl::Option *> opts;
  for (auto &entry : OptionsMap)
    opts.push_back(entry.second);
  for (llvm::cl::Option *o : opts)
    o->removeArgument();
}

std::string mlir::ttt::deprecatedTargetWords(llvm::StringRef t) {
  auto [kind, rest] = t.split(':');
  std::string text = ("target=" + kind).str();
  for (llvm::StringRef opt : llvm::split(rest, ',')) {
    if (opt.empty())
      continue;
    auto [key, value] = opt.split('=');
    // The knobs whose spelling changed; the others kept theirs.
    std::string renamed =
        llvm::StringSwitch<std::string>(opt)
            .Case("rounds=static", "static-rounds=1")
            .Case("rounds=strided", "static-rounds=0")
            .Case("buffers=packed", "pack-buffers=1")
            .Case("buffers=apart", "pack-buffers=0")
            .Case("count-ops=phases", "count-ops count-phases")
            .Default(llvm::StringSwitch<std::string>(key)
                         .Case("threads", "gpu-threads")
                         .Case("precision", "mma-precision")
                         .Case("k-split", "mma-k-split")
                         .Default(key.str()) +
                     (opt.contains('=') ? "=" + value.str() : ""));
    text += " " + renamed;
  }
  return text;
}

bool mlir::ttt::parseDeprecatedTarget(llvm::StringRef t, PipelineOptions &o,
                                      std::string &error, std::string &note) {
  std::string text = deprecatedTargetWords(t);
  if (!o.parse(text, error)) {
    error = "target '" + t.str() + "': " + error;
    return false;
  }
  if (t.contains(':'))
    note = "warning: target '" + t.str() + "' is deprecated (removed in the next release): "
           "its options are pipeline options now, '" + text +
           "' (tttc: --target=" + t.split(':').first.str() +
           " --OPTION=VALUE; C API: tttc_options.target and .options)";
  return true;
}
