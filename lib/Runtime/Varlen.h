//===- Varlen.h - packed variable-length batches ----------------*- C++ -*-===//
//
// A packed batch: N sequences one after another along T of a
// [1, T_total, H, ...] batch, sequence i the tokens [cu[i], cu[i+1]) of
// `cu` (cu_seqlens, N + 1 offsets from 0 to T_total, strictly increasing).
// Each sequence starts from the initial state (per head [H, ...], or its
// own row of [N, H, ...]) and ends in its own final state (row i of
// [N, H, ...]); chunks restart at every boundary. Runs as one call of the
// layer per sequence on views of the packed buffers (no copies of per-token
// data): the same code as an unpacked run of that sequence, so a packed
// batch gives bit for bit what its sequences give one by one. On the cpu
// target the sequences run concurrently over the layer's threads
// (cpu-threads); summed gradients are added in sequence order. On target
// cuda the buffers may be device memory (the sequences' launches one after
// another on the caller's stream).
//
//===----------------------------------------------------------------------===//
#ifndef TTTC_LIB_RUNTIME_VARLEN_H
#define TTTC_LIB_RUNTIME_VARLEN_H

#include "Runtime.h"

namespace tttc {

/// How one packed tensor maps to sequence i's: a view (offset, shape), or
/// whole (shared), or a buffer of its own summed afterwards (`grad`: the
/// gradient of a shared input).
enum class Part { Whole, Tokens, Row, Summed };
Part partOf(const mlir::ttt::ArgInfo *a, const Tensor &t, bool grad);
/// Sequence i's view of `t` (elements of `elemBytes` bytes).
Tensor view(const Tensor &t, Part p, const std::vector<int64_t> &cu, size_t i, size_t elemBytes);

/// Checks `cu` (N + 1 offsets) against the packed inputs; `error` names the
/// first problem.
bool checkSeqlens(const CompiledLayer &l, const std::vector<Tensor> &inputs,
                  const std::vector<int64_t> &cu, std::string &error);
/// Bytes the training forward of a packed batch saves: the sequences'
/// savedBytes(1, length, H), one after another.
size_t savedBytesVarlen(const CompiledLayer &l, const std::vector<int64_t> &cu, int64_t H);
/// Where a packed batch's buffers are: host memory, or (target cuda)
/// device memory whose launches go on `stream`.
struct Placement {
  bool device = false;
  void *stream = nullptr;
};
bool runVarlen(CompiledLayer &l, const std::vector<Tensor> &inputs,
               const std::vector<Tensor> &outputs, const std::vector<int64_t> &cu,
               std::string &error, Placement at = {});
/// `saved`: null for a plain forward.
bool runForwardTrainVarlen(CompiledLayer &l, const std::vector<Tensor> &inputs,
                           const std::vector<Tensor> &outputs, const std::vector<int64_t> &cu,
                           void *saved, size_t savedBytes, std::string &error,
                           Placement at = {});
/// Per-token and per-sequence gradients are written in place; those of
/// parameters, position inputs and shared initial states are summed over
/// the sequences (in order; on the device by tttc_cuda_sum_rows, the same
/// order).
bool runBackwardVarlen(CompiledLayer &l, const std::vector<Tensor> &inputs,
                       const std::vector<int64_t> &cu, const void *saved, size_t savedBytes,
                       const std::vector<Tensor> &cotangents, const std::vector<Tensor> &grads,
                       std::string &error, Placement at = {});

} // namespace tttc

#endif
