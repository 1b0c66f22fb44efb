//===- train-check.cpp - the C API's training on device buffers, faked ----===//
//
//   train-check SPEC B T H
//   train-check --sum-ptx          (prints the runtime's sum kernel)
//
// Compiles SPEC (head dim 16) for target cuda with its backward against the
// stand-in driver (test/cuda/FakeCuda.cpp), allocates (fake) device buffers
// for every input, output, cotangent and gradient, and calls
// tttc_run_train_cuda and tttc_run_backward_cuda (with the saved states, and
// without: the training forward first, into scratch); then the calls the C
// API must refuse. FAKE_CUDA_TRACE shows what reached the driver.
//
//===----------------------------------------------------------------------===//

#include "tttc/tttc.h"
#include "tttc/tttc_cuda.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {
struct Buffers {
  std::vector<std::vector<int64_t>> shapes;
  std::vector<std::string> names;
  std::vector<tttc_tensor> tensors;
};

size_t bytesOf(const std::vector<int64_t> &s) {
  size_t n = 4;
  for (int64_t e : s)
    n *= size_t(e);
  return n;
}

/// Device buffers named `prefix + name` for the layer's inputs or outputs.
void allocate(tttc_layer *l, bool outputs, int64_t B, int64_t T, int64_t H, Buffers &b) {
  int n = outputs ? tttc_num_outputs(l) : tttc_num_inputs(l);
  b.shapes.resize(n);
  for (int i = 0; i < n; ++i) {
    int64_t s[8];
    int r = outputs ? tttc_output_shape(l, i, B, T, H, s) : tttc_input_shape(l, i, B, T, H, s);
    b.shapes[i].assign(s, s + r);
    b.names.push_back(outputs ? tttc_output_name(l, i) : tttc_input_name(l, i));
  }
  for (int i = 0; i < n; ++i)
    b.tensors.push_back({b.names[i].c_str(), tttc_cuda_alloc_device(bytesOf(b.shapes[i])),
                         int(b.shapes[i].size()), b.shapes[i].data()});
}

void report(const char *what, int rc) {
  std::printf("%s: %s\n", what, rc ? tttc_last_error() : "ok");
  std::fflush(stdout);
}
} // namespace

int main(int argc, char **argv) {
  if (argc == 2 && std::string(argv[1]) == "--sum-ptx") {
    std::fputs(tttc_cuda_sum_rows_ptx(), stdout);
    return 0;
  }
  if (argc != 5) {
    std::fprintf(stderr, "usage: train-check SPEC B T H\n");
    return 2;
  }
  int64_t B = std::atoll(argv[2]), T = std::atoll(argv[3]), H = std::atoll(argv[4]);
  tttc_options o = tttc_default_options(16);
  o.target = "cuda";
  o.options = "backward";
  tttc_layer *l = tttc_compile_file(argv[1], &o);
  if (!l) {
    std::printf("compile error: %s\n", tttc_last_error());
    return 1;
  }
  std::printf("backward %d saved %lld bytes\n", tttc_has_backward(l),
              (long long)tttc_saved_bytes(l, B, T, H));
  Buffers in, out, cot, grad;
  allocate(l, false, B, T, H, in);
  allocate(l, true, B, T, H, out);
  allocate(l, true, B, T, H, cot);
  allocate(l, false, B, T, H, grad);
  int64_t savedBytes = tttc_saved_bytes(l, B, T, H);
  void *saved = tttc_cuda_alloc_device(size_t(savedBytes));
  int nIn = int(in.tensors.size()), nOut = int(out.tensors.size());
  std::fflush(stdout);
  report("train", tttc_run_train_cuda(l, in.tensors.data(), nIn, out.tensors.data(), nOut, saved,
                                      savedBytes, nullptr));
  report("backward", tttc_run_backward_cuda(l, in.tensors.data(), nIn, saved, savedBytes,
                                            cot.tensors.data(), nOut, grad.tensors.data(), nIn,
                                            nullptr));
  report("backward without saved states",
         tttc_run_backward_cuda(l, in.tensors.data(), nIn, nullptr, 0, cot.tensors.data(), 1,
                                grad.tensors.data(), 1, nullptr));
  // Refused: a short saved buffer, host memory, a layer of another target.
  report("short saved", tttc_run_backward_cuda(l, in.tensors.data(), nIn, saved, savedBytes - 4,
                                               cot.tensors.data(), nOut, grad.tensors.data(),
                                               nIn, nullptr));
  std::vector<float> host(bytesOf(grad.shapes[0]) / 4);
  tttc_tensor hostGrad = grad.tensors[0];
  hostGrad.data = host.data();
  report("host gradient", tttc_run_backward_cuda(l, in.tensors.data(), nIn, saved, savedBytes,
                                                 nullptr, 0, &hostGrad, 1, nullptr));
  // A parameter's gradient, summed on the device from per-program partials.
  for (int i = 0; i < nIn; ++i)
    if (tttc_input_kind(l, i) == TTTC_PARAM_VECTOR) {
      std::vector<float> hostParam(bytesOf(grad.shapes[i]) / 4);
      tttc_tensor g = grad.tensors[i];
      g.data = hostParam.data();
      report("host parameter gradient",
             tttc_run_backward_cuda(l, in.tensors.data(), nIn, saved, savedBytes, nullptr, 0, &g,
                                    1, nullptr));
      break;
    }
  // A packed batch of two sequences (tokens [0, 7) and [7, T)) on device
  // buffers: [1, T, H, ...] per-token tensors, [2, H, ...] final states.
  if (B == 2 && T > 7) {
    const int64_t cu[] = {0, 7, T};
    Buffers pin, pout, pcot, pgrad;
    allocate(l, false, 1, T, H, pin);
    allocate(l, true, 1, T, H, pout);
    allocate(l, true, 1, T, H, pcot);
    allocate(l, false, 1, T, H, pgrad);
    for (Buffers *b : {&pout, &pcot})
      for (size_t i = 0; i < b->shapes.size(); ++i)
        if (tttc_output_kind(l, int(i)) == TTTC_STATE_FINAL) {
          b->shapes[i][0] = 2;
          tttc_cuda_free_device(b->tensors[i].data);
          b->tensors[i].data = tttc_cuda_alloc_device(bytesOf(b->shapes[i]));
        }
    int64_t pbytes = tttc_saved_bytes_varlen(l, cu, 2, H);
    void *psaved = tttc_cuda_alloc_device(size_t(pbytes));
    std::printf("packed saved %lld bytes\n", (long long)pbytes);
    std::fflush(stdout);
    report("packed train", tttc_run_train_varlen_cuda(l, pin.tensors.data(), nIn,
                                                      pout.tensors.data(), nOut, cu, 2, psaved,
                                                      pbytes, nullptr));
    report("packed backward",
           tttc_run_backward_varlen_cuda(l, pin.tensors.data(), nIn, cu, 2, psaved, pbytes,
                                         pcot.tensors.data(), nOut, pgrad.tensors.data(), nIn,
                                         nullptr));
    const int64_t bad[] = {0, 7, T + 1};
    report("packed bad offsets", tttc_run_varlen_cuda(l, pin.tensors.data(), nIn,
                                                      pout.tensors.data(), nOut, bad, 2,
                                                      nullptr));
  }
  o.target = "cpu";
  tttc_layer *cpu = tttc_compile_file(argv[1], &o);
  report("cpu layer", tttc_run_train_cuda(cpu, in.tensors.data(), nIn, out.tensors.data(), nOut,
                                          saved, savedBytes, nullptr));
  const int64_t cu1[] = {0, T};
  report("cpu layer, packed", tttc_run_varlen_cuda(cpu, in.tensors.data(), 1, nullptr, 0, cu1, 1,
                                                   nullptr));
  o.target = "cuda";
  o.options = nullptr;
  tttc_layer *fwd = tttc_compile_file(argv[1], &o);
  report("no backward", tttc_run_backward_cuda(fwd, in.tensors.data(), nIn, saved, savedBytes,
                                               nullptr, 0, nullptr, 0, nullptr));
  tttc_destroy(fwd);
  tttc_destroy(cpu);
  tttc_destroy(l);
  return 0;
}
