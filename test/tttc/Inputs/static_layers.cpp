// Layers held by static objects are destroyed after main returns: that must
// neither crash nor print anything nor change the exit code. One is run,
// one is only compiled.
#include "tttc/tttc.h"
#include <cstdio>
#include <string>
#include <vector>

struct Holder {
  tttc_layer *l = nullptr;
  ~Holder() { tttc_destroy(l); }
};
static Holder ran, compiledOnly;

int main(int argc, char **argv) {
  std::string dir = argv[1];
  tttc_options opts = tttc_default_options(8);
  ran.l = tttc_compile_file((dir + "/delta.mlir").c_str(), &opts);
  compiledOnly.l = tttc_compile_file((dir + "/ttt_mlp.mlir").c_str(), &opts);
  if (!ran.l || !compiledOnly.l) {
    std::fprintf(stderr, "%s\n", tttc_last_error());
    return 1;
  }
  const int64_t B = 1, T = 3, H = 2, D = 8;
  std::vector<float> q(B * T * H * D, 0.1f), beta(B * T * H, 0.5f), w(H * D * D, 0.01f),
      out(B * T * H * D), wf(B * H * D * D);
  int64_t sq[] = {B, T, H, D}, sb[] = {B, T, H}, sw[] = {H, D, D}, swf[] = {B, H, D, D};
  tttc_tensor in[] = {{"q", q.data(), 4, sq}, {"k", q.data(), 4, sq}, {"v", q.data(), 4, sq},
                      {"beta", beta.data(), 3, sb}, {"w_init", w.data(), 3, sw}};
  tttc_tensor o[] = {{"out", out.data(), 4, sq}, {"w_final", wf.data(), 4, swf}};
  if (tttc_run(ran.l, in, 5, o, 2)) {
    std::fprintf(stderr, "%s\n", tttc_last_error());
    return 1;
  }
  std::printf("ran ok\n");
  return 0;
}
