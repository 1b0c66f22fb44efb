//===- Decode.h - advancing a layer's state a few tokens at a time -*- C++ -*-===//
//
// A decoder state is one caller-owned buffer: a header, every state's value
// at the start of the unfinished chunk ([B, H, ...] float32, declaration
// order), and the tokens of that chunk seen so far (per per-token input
// [B, C, H, ...] in the I/O type, C the tokens per chunk step). A step of n
// tokens runs `<name>_resume` (pipeline option `decode`) from the chunk
// boundary on the pending tokens and the new ones: at most one call over
// the chunks it completes (whose final state becomes the new chunk-start
// state) and one over the unfinished chunk's tokens (which stay pending).
// The chunks a step computes are the forward's, so decoding a sequence in
// steps of any size gives the outputs of the forward over the whole
// sequence (to rounding: a chunk's rows are recomputed as it fills).
//
//===----------------------------------------------------------------------===//
#ifndef TTTC_LIB_RUNTIME_DECODE_H
#define TTTC_LIB_RUNTIME_DECODE_H

#include "Runtime.h"

namespace tttc {

/// Bytes of a decoder state for B rows and H heads (0 without the decode
/// step).
size_t decodeStateBytes(const CompiledLayer &l, int64_t B, int64_t H);
/// Starts a decoder in `state`: every state at its initial value (the
/// initial-state inputs of the forward, by name, [H, ...] or [B, H, ...];
/// an omitted optional one, or a state the spec gives no init, is zero)
/// and no tokens seen.
bool decodeInit(const CompiledLayer &l, const std::vector<Tensor> &inits, int64_t B, int64_t H,
                void *state, size_t bytes, std::string &error);
/// Advances `state` by the n tokens of `inputs` (the forward's inputs
/// without initial states; per-token ones [B, n, H, ...], n >= 1) and
/// writes `outputs` (the forward's, by name; readouts [B, n, H, ...] for
/// these tokens, final states [B, H, ...] after them; any may be omitted).
bool decodeStep(CompiledLayer &l, const std::vector<Tensor> &inputs, void *state, size_t bytes,
                const std::vector<Tensor> &outputs, std::string &error);
/// Tokens a decoder state has seen (-1 if `state` is not one).
int64_t decodePosition(const void *state, size_t bytes);

} // namespace tttc

#endif
