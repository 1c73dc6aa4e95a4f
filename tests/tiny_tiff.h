// Builds small classic TIFF files byte by byte, so the slide tests can feed the reader exactly the
// structure they need (stripped, unknown compression, vendor markers, missing tiles, garbage tiles)
// without any tool or third-party file.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace hipt::testing {

struct TinyDir {
  uint32_t width = 16, height = 16;
  uint32_t tile = 16;  // 0: one strip instead of tiles
  uint32_t tile_height = 0;  // 0: square tiles
  uint16_t compression = 1, photometric = 2, samples = 3;
  uint32_t subfile_type = 0;
  std::string description, software;
  uint32_t image_depth = 0;      // 0: tag absent
  uint16_t planar = 1;           // 2: one tile per sample plane, plane after plane
  int extra_samples = -1;        // ExtraSamples value for the last sample, -1: tag absent
  std::string xmp;               // XMLPacket, empty: absent
  std::vector<std::string> tiles;  // one byte string per tile (or the strip); "" gives bytecount 0
};

// Little-endian classic TIFF with the directories chained in order.
inline std::string tiny_tiff(const std::vector<TinyDir>& dirs) {
  std::string out("II*\0\0\0\0\0", 8);
  auto put32 = [](std::string& s, size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>(v >> (8 * i));
  };
  size_t link = 4;  // where the offset of the next IFD goes
  for (const TinyDir& d : dirs) {
    // Pixel data first, then the IFD and its out-of-line values.
    std::vector<uint32_t> offsets, counts;
    for (const std::string& t : d.tiles) {
      offsets.push_back(static_cast<uint32_t>(out.size()));
      counts.push_back(static_cast<uint32_t>(t.size()));
      out += t;
    }
    if (out.size() % 2) out += '\0';
    struct Entry {
      uint16_t type;
      uint32_t count;
      std::string bytes;
    };
    std::map<uint16_t, Entry> e;
    auto shorts = [](std::vector<uint16_t> v) {
      std::string b;
      for (uint16_t x : v) b += std::string{static_cast<char>(x & 255), static_cast<char>(x >> 8)};
      return b;
    };
    auto longs = [](std::vector<uint32_t> v) {
      std::string b;
      for (uint32_t x : v)
        for (int i = 0; i < 4; ++i) b += static_cast<char>(x >> (8 * i));
      return b;
    };
    e[254] = {4, 1, longs({d.subfile_type})};
    e[256] = {4, 1, longs({d.width})};
    e[257] = {4, 1, longs({d.height})};
    e[258] = {3, d.samples, shorts(std::vector<uint16_t>(d.samples, 8))};
    e[259] = {3, 1, shorts({d.compression})};
    e[262] = {3, 1, shorts({d.photometric})};
    if (!d.description.empty()) e[270] = {2, static_cast<uint32_t>(d.description.size() + 1), d.description + '\0'};
    if (!d.software.empty()) e[305] = {2, static_cast<uint32_t>(d.software.size() + 1), d.software + '\0'};
    e[277] = {3, 1, shorts({d.samples})};
    e[284] = {3, 1, shorts({d.planar})};
    if (d.extra_samples >= 0) e[338] = {3, 1, shorts({static_cast<uint16_t>(d.extra_samples)})};
    if (d.tile) {
      e[322] = {4, 1, longs({d.tile})};
      e[323] = {4, 1, longs({d.tile_height ? d.tile_height : d.tile})};
      e[324] = {4, static_cast<uint32_t>(offsets.size()), longs(offsets)};
      e[325] = {4, static_cast<uint32_t>(counts.size()), longs(counts)};
    } else {
      e[273] = {4, static_cast<uint32_t>(offsets.size()), longs(offsets)};
      e[278] = {4, 1, longs({d.height})};
      e[279] = {4, static_cast<uint32_t>(counts.size()), longs(counts)};
    }
    if (!d.xmp.empty()) e[700] = {1, static_cast<uint32_t>(d.xmp.size()), d.xmp};
    if (d.image_depth) e[32997] = {4, 1, longs({d.image_depth})};
    size_t ifd = out.size();
    put32(out, link, static_cast<uint32_t>(ifd));
    size_t extra = ifd + 2 + e.size() * 12 + 4;
    std::string entries, values;
    for (const auto& [tag, v] : e) {
      entries += shorts({tag, v.type}) + longs({v.count});
      if (v.bytes.size() <= 4) {
        entries += v.bytes + std::string(4 - v.bytes.size(), '\0');
      } else {
        entries += longs({static_cast<uint32_t>(extra + values.size())});
        values += v.bytes;
        if (values.size() % 2) values += '\0';
      }
    }
    out += shorts({static_cast<uint16_t>(e.size())}) + entries;
    link = out.size();
    out += std::string(4, '\0') + values;
  }
  return out;
}

// A 16x16 RGB tile, uncompressed, pixel (x, y) = (x*16, y*16, 200).
inline std::string tiny_rgb_tile(uint32_t size = 16) {
  std::string t;
  for (uint32_t y = 0; y < size; ++y)
    for (uint32_t x = 0; x < size; ++x) t += {static_cast<char>(x * 16), static_cast<char>(y * 16), static_cast<char>(200)};
  return t;
}

}  // namespace hipt::testing
