//===- Npy.h - minimal .npy reader/writer (float32, C order) ----*- C++ -*-===//
#ifndef TTTC_TOOLS_NPY_H
#define TTTC_TOOLS_NPY_H

#include <cstdint>
#include <string>
#include <vector>

namespace tttc {
struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

/// Reads a little-endian float32 C-order .npy file. On failure returns false
/// with a message naming the file and the problem (dtype, order, size).
bool readNpy(const std::string &path, NpyArray &out, std::string &error);
/// Reads a 1-D little-endian int32 or int64 .npy file (offsets).
bool readNpyOffsets(const std::string &path, std::vector<int64_t> &out, std::string &error);
/// Writes a little-endian float32 C-order .npy file.
bool writeNpy(const std::string &path, const NpyArray &a, std::string &error);
} // namespace tttc

#endif
