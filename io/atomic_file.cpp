#include "io/atomic_file.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "tensor/error.h"

namespace hipt {

namespace {

struct WriteFault {
  int error = 0;   // errno to inject; 0: none
  long long n = 0;  // which write
};

WriteFault parse_write_fault() {
  const char* v = std::getenv("HIPT_FAULT_WRITE");
  if (v == nullptr || *v == '\0') return {};
  const std::string s(v);
  const auto colon = s.find(':');
  const std::string code = s.substr(0, colon);
  WriteFault f;
  f.error = code == "ENOSPC" ? ENOSPC : code == "EFBIG" ? EFBIG : code == "EIO" ? EIO : 0;
  char* end = nullptr;
  if (colon != std::string::npos) f.n = std::strtoll(s.c_str() + colon + 1, &end, 10);
  HIPT_CHECK(f.error != 0 && f.n >= 1 && end != nullptr && *end == '\0',
             "HIPT_FAULT_WRITE='{}': expected ENOSPC:N, EFBIG:N or EIO:N with N >= 1", s);
  return f;
}

}  // namespace

int injected_write_error() {
  static const WriteFault fault = parse_write_fault();
  static std::atomic<long long> writes{0};
  if (fault.error == 0) return 0;
  return ++writes == fault.n ? fault.error : 0;
}

void write_file_atomic(const std::string& path, const std::string& content) {
  namespace fs = std::filesystem;
  fs::path target(path);
  std::error_code ec;
  if (target.has_parent_path()) fs::create_directories(target.parent_path(), ec);
  HIPT_CHECK(!ec, "{}: cannot create folder {}: {}", path, target.parent_path().string(), ec.message());
  const int injected = injected_write_error();
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  FILE* f = std::fopen(tmp.c_str(), "wb");
  HIPT_CHECK(f != nullptr, "{}: cannot write: {}", path, std::strerror(errno));
  const size_t n = injected ? content.size() / 2 : content.size();
  bool ok = std::fwrite(content.data(), 1, n, f) == n;
  int err = ok ? 0 : errno;
  if (ok && std::fflush(f) != 0) ok = false, err = errno;
  if (ok && ::fsync(::fileno(f)) != 0) ok = false, err = errno;
  if (std::fclose(f) != 0 && ok) ok = false, err = errno;
  if (ok && injected) ok = false, err = injected;
  if (ok && std::rename(tmp.c_str(), path.c_str()) != 0) ok = false, err = errno;
  if (!ok) {
    std::remove(tmp.c_str());
    throw Error(fmt::format("{}: write failed: {}", path, std::strerror(err)));
  }
}

}  // namespace hipt
