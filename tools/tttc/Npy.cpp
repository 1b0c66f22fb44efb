//===- Npy.cpp - minimal .npy reader/writer (float32, C order) ------------===//

#include "Npy.h"

#include <cstring>
#include <fstream>
#include <sstream>

namespace tttc {

static bool fail(std::string &error, const std::string &path, const std::string &msg) {
  error = path + ": " + msg;
  return false;
}

/// The value of `key` in the header dict (the text after "'key':").
static std::string field(const std::string &header, const std::string &key) {
  size_t p = header.find("'" + key + "'");
  if (p == std::string::npos)
    return "";
  p = header.find(':', p);
  if (p == std::string::npos)
    return "";
  ++p;
  while (p < header.size() && header[p] == ' ')
    ++p;
  if (p < header.size() && header[p] == '(') {
    size_t e = header.find(')', p);
    return e == std::string::npos ? "" : header.substr(p, e - p + 1);
  }
  size_t e = header.find_first_of(",}", p);
  return header.substr(p, e == std::string::npos ? std::string::npos : e - p);
}

namespace {
/// Opens `path` and reads its header: the dtype ("'<f4'", ...) and shape;
/// `f` is left at the data.
bool readHeader(const std::string &path, std::ifstream &f, std::string &descr,
                std::vector<int64_t> &shape, int64_t &n, std::string &error) {
  f.open(path, std::ios::binary);
  if (!f)
    return fail(error, path, "cannot open file");
  char magic[6];
  if (!f.read(magic, 6) || std::memcmp(magic, "\x93NUMPY", 6) != 0)
    return fail(error, path, "not a .npy file (bad magic)");
  unsigned char ver[2];
  f.read(reinterpret_cast<char *>(ver), 2);
  uint32_t hlen = 0;
  if (ver[0] == 1) {
    unsigned char l[2];
    f.read(reinterpret_cast<char *>(l), 2);
    hlen = l[0] | (l[1] << 8);
  } else if (ver[0] == 2 || ver[0] == 3) {
    unsigned char l[4];
    f.read(reinterpret_cast<char *>(l), 4);
    hlen = l[0] | (l[1] << 8) | (l[2] << 16) | (uint32_t(l[3]) << 24);
  } else {
    return fail(error, path, "unsupported .npy version " + std::to_string(ver[0]));
  }
  std::string header(hlen, '\0');
  if (!f.read(&header[0], hlen))
    return fail(error, path, "truncated header");
  descr = field(header, "descr");
  if (field(header, "fortran_order") != "False")
    return fail(error, path, "Fortran-order arrays are not supported; save C-order");
  std::string s = field(header, "shape");
  if (s.size() < 2)
    return fail(error, path, "missing shape in header");
  shape.clear();
  std::stringstream ss(s.substr(1, s.size() - 2));
  std::string item;
  n = 1;
  while (std::getline(ss, item, ',')) {
    size_t a = item.find_first_not_of(' ');
    if (a == std::string::npos)
      continue;
    int64_t d = std::stoll(item.substr(a));
    shape.push_back(d);
    n *= d;
  }
  return true;
}
} // namespace

bool readNpy(const std::string &path, NpyArray &out, std::string &error) {
  std::ifstream f;
  std::string descr;
  int64_t n;
  if (!readHeader(path, f, descr, out.shape, n, error))
    return false;
  if (descr != "'<f4'" && descr != "'f4'")
    return fail(error, path,
                "dtype " + (descr.empty() ? std::string("?") : descr) +
                    " is not supported; inputs must be little-endian float32 ('<f4')");
  out.data.resize(n);
  if (n && !f.read(reinterpret_cast<char *>(out.data.data()), n * sizeof(float)))
    return fail(error, path, "file is shorter than its shape says");
  return true;
}

bool readNpyOffsets(const std::string &path, std::vector<int64_t> &out, std::string &error) {
  std::ifstream f;
  std::string descr;
  std::vector<int64_t> shape;
  int64_t n;
  if (!readHeader(path, f, descr, shape, n, error))
    return false;
  if (shape.size() != 1)
    return fail(error, path, "offsets must be 1-D (N + 1 of them)");
  bool i4 = descr == "'<i4'", i8 = descr == "'<i8'";
  if (!i4 && !i8)
    return fail(error, path, "dtype " + (descr.empty() ? std::string("?") : descr) +
                                 " is not supported; offsets are int32 ('<i4') or int64 ('<i8')");
  out.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    int32_t v4;
    int64_t v8;
    if (!(i4 ? f.read(reinterpret_cast<char *>(&v4), 4) : f.read(reinterpret_cast<char *>(&v8), 8)))
      return fail(error, path, "file is shorter than its shape says");
    out[i] = i4 ? v4 : v8;
  }
  return true;
}

bool writeNpy(const std::string &path, const NpyArray &a, std::string &error) {
  // numpy writes "(2, 3)", "(5,)" and "()".
  std::string pretty = "(";
  for (size_t i = 0; i < a.shape.size(); ++i)
    pretty += std::to_string(a.shape[i]) + (i + 1 < a.shape.size() ? ", " : (a.shape.size() == 1 ? "," : ""));
  pretty += ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + pretty + ", }";
  size_t total = 10 + header.size() + 1;
  header += std::string((64 - total % 64) % 64, ' ') + "\n";
  std::ofstream f(path, std::ios::binary);
  if (!f)
    return fail(error, path, "cannot create file");
  f.write("\x93NUMPY\x01\x00", 8);
  uint16_t hl = uint16_t(header.size());
  char l[2] = {char(hl & 0xff), char(hl >> 8)};
  f.write(l, 2);
  f.write(header.data(), header.size());
  f.write(reinterpret_cast<const char *>(a.data.data()), a.data.size() * sizeof(float));
  if (!f)
    return fail(error, path, "write failed");
  return true;
}

} // namespace tttc
