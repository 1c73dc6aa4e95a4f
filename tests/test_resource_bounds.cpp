// Hostile files under a memory limit. Each reader of outside data has documented bounds (the
// README's "Limits of the readers"); here each hostile file, built byte by byte below, is read in a
// child process whose address space may grow by at most kBound past what the process already
// maps (RLIMIT_AS), and the reader must answer with one hipt::Error: not a crash, not
// std::bad_alloc, not success. Skipped in the sanitizer builds, whose shadow memory needs a huge
// address space.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <functional>
#include <new>
#include <string>

#include "hipt/pipeline/presets.h"
#include "io/coords.h"
#include "io/png.h"
#include "io/pth.h"
#include "io/safetensors.h"
#include "slide_testing.h"

namespace hipt {
namespace {

constexpr uint64_t kBound = uint64_t{256} << 20;  // 256 MiB over the process's own mappings

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

uint64_t mapped_bytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t pages = 0;
  statm >> pages;
  return pages * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

// 0: hipt::Error; 1: no error; 2: std::bad_alloc; 3: another exception; 4: the limit could not
// be set; otherwise the child died (a signal: 128 + its number).
int read_under_limit(const std::function<void()>& read) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const rlim_t bound = mapped_bytes() + kBound;
    const rlimit limit{bound, bound};
    if (::setrlimit(RLIMIT_AS, &limit) != 0) ::_exit(4);
    int code = 1;
    try {
      read();
    } catch (const Error&) {
      code = 0;
    } catch (const std::bad_alloc&) {
      code = 2;
    } catch (...) {
      code = 3;
    }
    ::_exit(code);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string le16(uint16_t v) { return {static_cast<char>(v & 0xff), static_cast<char>(v >> 8)}; }
std::string le32(uint32_t v) { return le16(static_cast<uint16_t>(v & 0xffff)) + le16(static_cast<uint16_t>(v >> 16)); }
std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>((v >> 16) & 0xff), static_cast<char>((v >> 8) & 0xff),
          static_cast<char>(v & 0xff)};
}

// A zip archive with one deflated entry `name` of `data.size()` compressed bytes, whose headers
// claim `claimed` uncompressed bytes (a zip bomb's claim, without the bomb).
std::string zip_claiming(const std::string& name, const std::string& data, uint32_t claimed) {
  const std::string sizes = le32(0) /* crc */ + le32(static_cast<uint32_t>(data.size())) + le32(claimed);
  const std::string local = "PK\x03\x04" + le16(20) + le16(0) + le16(8) + le16(0) + le16(0) + sizes +
                            le16(static_cast<uint16_t>(name.size())) + le16(0) + name;
  const std::string central = "PK\x01\x02" + le16(20) + le16(20) + le16(0) + le16(8) + le16(0) + le16(0) + sizes +
                              le16(static_cast<uint16_t>(name.size())) + le16(0) + le16(0) + le16(0) + le16(0) +
                              le32(0) + le32(0) + name;
  const uint32_t central_at = static_cast<uint32_t>(local.size() + data.size());
  const std::string end = std::string("PK\x05\x06", 4) + le16(0) + le16(0) + le16(1) + le16(1) +
                          le32(static_cast<uint32_t>(central.size())) + le32(central_at) + le16(0);
  return local + data + central + end;
}

// CRC-32 as PNG chunks carry it (polynomial 0xEDB88320), bit by bit.
uint32_t crc32(const std::string& bytes) {
  uint32_t c = 0xffffffffu;
  for (unsigned char b : bytes) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return c ^ 0xffffffffu;
}

// A PNG whose header claims width x height RGBA pixels, with a few bytes of image data.
std::string png_claiming(uint32_t width, uint32_t height) {
  auto chunk = [](const std::string& type, const std::string& body) {
    return be32(static_cast<uint32_t>(body.size())) + type + body + be32(crc32(type + body));
  };
  const std::string ihdr = be32(width) + be32(height) + std::string("\x08\x06\x00\x00\x00", 5);
  return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + chunk("IDAT", "\x78\x9c\x03\x00") +
         chunk("IEND", "");
}

class ResourceBounds : public ::testing::Test {
 protected:
  void SetUp() override {
    if (kSanitized) GTEST_SKIP() << "the sanitizers' shadow memory does not fit under RLIMIT_AS";
  }
  std::string file(const std::string& name, const std::string& bytes) {
    const std::string path = testing::temp_path(name);
    testing::write_bytes(path, bytes);
    return path;
  }
};

TEST_F(ResourceBounds, APthEntryClaimingTwoGigabytesIsRefusedBeforeItIsAllocated) {
  const std::string path = file("bounds_claim.pth", zip_claiming("archive/data.pkl", std::string("\x03\x00", 2), 0x7fff0000u));
  EXPECT_EQ(read_under_limit([&] { io::read_pth(path); }), 0);
  testing::expect_error([&] { io::read_pth(path); }, {path, "archive/data.pkl", "claims 2147418112 bytes"});
}

TEST_F(ResourceBounds, APickleNestedDeeperThanTheLimitIsRefused) {
  const std::string path = std::string(HIPT_TEST_DATA) + "/pth/deep_nesting.pth";
  EXPECT_EQ(read_under_limit([&] { io::read_pth(path); }), 0);
}

TEST_F(ResourceBounds, APngClaimingAGigabyteOfPixelsIsRefusedBeforeItIsAllocated) {
  const std::string path = file("bounds_claim.png", png_claiming(16384, 16384));  // 2^28 RGBA pixels: 1 GiB
  EXPECT_EQ(read_under_limit([&] { io::read_png(path); }), 0);
  testing::expect_error([&] { io::read_png(path); }, {path, "more than the file's compressed data can hold"});
}

TEST_F(ResourceBounds, SafetensorsHeadersAtAndPastTheLimit) {
  // A header length at the 100 MB limit with nothing behind it, one past it, and a 4 MB header of
  // arrays nested a million deep.
  const std::string at_limit = file("bounds_header.safetensors", std::string("\x00\xe1\xf5\x05\x00\x00\x00\x00", 8) + "{}");
  const std::string past = file("bounds_header2.safetensors", std::string("\x01\xe1\xf5\x05\x00\x00\x00\x00", 8) + "{}");
  const std::string nested_json = std::string(1 << 20, '[') + std::string(1 << 20, ']');
  std::string len;
  for (int i = 0; i < 8; ++i) len += static_cast<char>((nested_json.size() >> (8 * i)) & 0xff);
  const std::string nested = file("bounds_nested.safetensors", len + nested_json);
  for (const std::string& p : {at_limit, past, nested}) {
    EXPECT_EQ(read_under_limit([&] { io::read_safetensors(p); }), 0) << p;
    EXPECT_EQ(read_under_limit([&] { io::read_safetensors_metadata(p); }), 0) << p;
  }
}

TEST_F(ResourceBounds, ClamCoordsClaimingMoreRowsThanTheFileHolds) {
  // Our fixture with one byte changed: libhdf5 then asks malloc for about 435 GB (see
  // CoordsHdf5.ACorruptMetadataSizeIsAnErrorNotACrash); under the limit the request fails.
  std::string bytes = testing::read_bytes(std::string(HIPT_TEST_DATA) + "/coords/clam_patches.h5");
  bytes.at(4036) = 0x65;
  const std::string path = file("bounds_coords.h5", bytes);
  EXPECT_EQ(read_under_limit([&] { io::read_region_coords(path); }), 0);
  // A CSV line with a number past int64.
  const std::string csv = file("bounds_coords.csv", "x,y\n99999999999999999999999,1\n");
  EXPECT_EQ(read_under_limit([&] { io::read_region_coords(csv); }), 0);
}

TEST_F(ResourceBounds, APresetWithAHugeLineIsOneError) {
  const std::string path = file("bounds_preset.csv", "seg_level," + std::string(8 << 20, '9') + "\n1,2\n");
  TilingOptions t;
  EXPECT_EQ(read_under_limit([&] { apply_clam_preset(path, t); }), 0);
}

}  // namespace
}  // namespace hipt
