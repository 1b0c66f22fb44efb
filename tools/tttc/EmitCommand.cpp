//===- EmitCommand.cpp - tttc SPEC --emit=STAGE ---------------------------===//
//
// The IR after a pipeline stage, the GPU kernels' PTX, or (stage object) a
// native object file for the cpu target.
//
//===----------------------------------------------------------------------===//

#include "Driver.h"

#include <cstdio>

namespace tttc::driver {

int emitCommand(const Invocation &a) {
  if (a.emit.empty())
    return die("nothing to do: give --emit=STAGE, or use 'tttc run' / 'tttc compile' "
               "(tttc --help)");
  int64_t d = a.headDim ? a.headDim : 64;
  if (a.emit == "object") {
    std::string out = a.out.empty() ? "out.o" : a.out;
    tttc_options opts = a.capi(d);
    if (tttc_compile_file_to_object(a.spec.c_str(), &opts, out.c_str(),
                                    a.header.empty() ? nullptr : a.header.c_str()))
      return die(tttc_last_error());
    return 0;
  }
  tttc_options opts = a.capi(d);
  char *text = tttc_emit_file(a.spec.c_str(), a.emit.c_str(), &opts);
  if (!text)
    return die(tttc_last_error());
  printNotes();
  if (a.out.empty() || a.out == "-") {
    std::fputs(text, stdout);
  } else {
    FILE *f = std::fopen(a.out.c_str(), "w");
    if (!f) {
      tttc_free_string(text);
      return die("cannot write " + a.out);
    }
    std::fputs(text, f);
    std::fclose(f);
  }
  tttc_free_string(text);
  return 0;
}

} // namespace tttc::driver
