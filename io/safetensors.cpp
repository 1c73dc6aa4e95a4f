#include "io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "io/atomic_file.h"
#include "tensor/ops.h"

namespace hipt::io {
namespace {

using nlohmann::json;

// The reference reader's bound: a larger header is a corrupt or hostile file, not a checkpoint.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

struct DTypeName {
  DType dtype;
  const char* name;
};
constexpr DTypeName kDTypeNames[] = {{DType::F32, "F32"}, {DType::F64, "F64"}, {DType::F16, "F16"},
                                     {DType::BF16, "BF16"}, {DType::I32, "I32"}, {DType::I64, "I64"},
                                     {DType::U8, "U8"},   {DType::Bool, "BOOL"}};

const char* safetensors_name(DType t) {
  for (const auto& d : kDTypeNames)
    if (d.dtype == t) return d.name;
  return "?";
}

struct Entry {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  uint64_t begin = 0, end = 0;  // relative to the byte buffer
};

struct Header {
  std::vector<Entry> entries;
  std::map<std::string, std::string> metadata;
  uint64_t buffer_start = 0;  // 8 + N
};

uint64_t read_u64_le(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// A non-negative integer that fits in int64 (JSON numbers may be floats, negatives or huge).
uint64_t json_count(const std::string& path, const json& v, const std::string& what) {
  HIPT_CHECK(v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0),
             "{}: safetensors: {} must be a non-negative integer, got {}", path, what, v.dump());
  uint64_t u = v.get<uint64_t>();
  HIPT_CHECK(u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), "{}: safetensors: {} {} is too large",
             path, what, u);
  return u;
}

Entry parse_entry(const std::string& path, const std::string& name, const json& v) {
  Entry e;
  e.name = name;
  HIPT_CHECK(v.is_object(), "{}: safetensors: tensor '{}' is not a JSON object", path, name);
  for (const char* key : {"dtype", "shape", "data_offsets"})
    HIPT_CHECK(v.contains(key), "{}: safetensors: tensor '{}' has no \"{}\"", path, name, key);
  const json& dt = v["dtype"];
  HIPT_CHECK(dt.is_string(), "{}: safetensors: tensor '{}': dtype is not a string", path, name);
  const std::string dts = dt.get<std::string>();
  bool known = false;
  for (const auto& d : kDTypeNames)
    if (dts == d.name) e.dtype = d.dtype, known = true;
  HIPT_CHECK(known, "{}: safetensors: tensor '{}' has unsupported dtype '{}' (supported: F32 F64 F16 BF16 I32 I64 U8 BOOL)",
             path, name, dts);
  const json& sh = v["shape"];
  HIPT_CHECK(sh.is_array(), "{}: safetensors: tensor '{}': shape is not an array", path, name);
  HIPT_CHECK(sh.size() <= static_cast<size_t>(kMaxDims), "{}: safetensors: tensor '{}' has {} dims (at most {})", path,
             name, sh.size(), kMaxDims);
  // Size in bytes with overflow checks: dims multiply up to at most 2^63.
  unsigned __int128 bytes = dtype_size(e.dtype);
  bool zero = false;
  for (const json& d : sh) {
    uint64_t n = json_count(path, d, "tensor '" + name + "' dim");
    e.shape.push_back(static_cast<int64_t>(n));
    if (n == 0) zero = true;
    if (!zero) {
      bytes *= n;
      HIPT_CHECK(bytes <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
                 "{}: safetensors: tensor '{}' shape {} overflows", path, name, sh.dump());
    }
  }
  if (zero) bytes = 0;
  const json& off = v["data_offsets"];
  HIPT_CHECK(off.is_array() && off.size() == 2, "{}: safetensors: tensor '{}': data_offsets must be [begin, end]",
             path, name);
  e.begin = json_count(path, off[0], "tensor '" + name + "' begin offset");
  e.end = json_count(path, off[1], "tensor '" + name + "' end offset");
  HIPT_CHECK(e.begin <= e.end, "{}: safetensors: tensor '{}': data_offsets [{}, {}] end before begin", path, name,
             e.begin, e.end);
  HIPT_CHECK(e.end - e.begin == static_cast<uint64_t>(bytes),
             "{}: safetensors: tensor '{}' {} {} needs {} bytes but data_offsets [{}, {}] span {}", path, name, dts,
             e.shape.str(), static_cast<uint64_t>(bytes), e.begin, e.end, e.end - e.begin);
  return e;
}

// Reads and validates everything but the tensor bytes. `in` is positioned after the header.
Header read_header(const std::string& path, std::ifstream& in) {
  std::error_code ec;
  HIPT_CHECK(!std::filesystem::is_directory(path, ec), "{}: is a folder, not a safetensors file", path);
  HIPT_CHECK(in.good(), "{}: cannot open", path);
  in.seekg(0, std::ios::end);
  const std::streamoff end = in.tellg();
  HIPT_CHECK(end >= 0, "{}: cannot read", path);
  const auto file_size = static_cast<uint64_t>(end);
  in.seekg(0);
  HIPT_CHECK(file_size >= 8, "{}: safetensors: file is {} bytes, too short for the 8-byte header length", path,
             file_size);
  unsigned char len_bytes[8] = {};
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  HIPT_CHECK(in.good(), "{}: cannot read the header length", path);
  const uint64_t n = read_u64_le(len_bytes);
  HIPT_CHECK(n <= kMaxHeaderBytes, "{}: safetensors: header length {} exceeds the limit {}", path, n, kMaxHeaderBytes);
  HIPT_CHECK(n <= file_size - 8, "{}: safetensors: header length {} but only {} bytes follow (truncated file?)", path,
             n, file_size - 8);
  std::string text(n, '\0');
  in.read(text.data(), static_cast<std::streamsize>(n));
  HIPT_CHECK(in.good(), "{}: safetensors: cannot read the header", path);

  // A callback sees every key as it is parsed, which is the only place duplicates are visible.
  std::set<std::string> seen;
  std::string duplicate;
  auto on_event = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth == 1 && !seen.insert(parsed.get<std::string>()).second &&
        duplicate.empty())
      duplicate = parsed.get<std::string>();
    return true;
  };
  json j = json::parse(text, on_event, /*allow_exceptions=*/false);
  HIPT_CHECK(!j.is_discarded(), "{}: safetensors: the {}-byte header is not valid JSON", path, n);
  HIPT_CHECK(j.is_object(), "{}: safetensors: the header is not a JSON object", path);
  HIPT_CHECK(duplicate.empty(), "{}: safetensors: tensor name '{}' appears twice in the header", path, duplicate);

  Header h;
  h.buffer_start = 8 + n;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "__metadata__") {
      HIPT_CHECK(it->is_object(), "{}: safetensors: __metadata__ is not a JSON object", path);
      for (auto m = it->begin(); m != it->end(); ++m) {
        HIPT_CHECK(m->is_string(), "{}: safetensors: __metadata__ value for '{}' is not a string", path, m.key());
        h.metadata[m.key()] = m->get<std::string>();
      }
      continue;
    }
    h.entries.push_back(parse_entry(path, it.key(), *it));
  }

  // The spans, sorted, must tile [0, buffer size) with no hole, overlap or trailing byte.
  std::vector<const Entry*> order;
  for (const Entry& e : h.entries) order.push_back(&e);
  std::sort(order.begin(), order.end(),
            [](const Entry* a, const Entry* b) { return a->begin != b->begin ? a->begin < b->begin : a->end < b->end; });
  uint64_t at = 0;
  for (const Entry* e : order) {
    HIPT_CHECK(e->begin == at, "{}: safetensors: tensor '{}' starts at byte {} of the buffer, expected {} ({})", path,
               e->name, e->begin, at, e->begin < at ? "overlap" : "hole");
    at = e->end;
  }
  const uint64_t buffer_size = file_size - h.buffer_start;
  HIPT_CHECK(at <= buffer_size, "{}: safetensors: tensors need {} bytes of data but the file has {} (truncated file?)",
             path, at, buffer_size);
  HIPT_CHECK(at == buffer_size, "{}: safetensors: {} bytes after the last tensor", path, buffer_size - at);
  return h;
}

}  // namespace

TensorMap read_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  Header h = read_header(path, in);
  TensorMap out;
  for (const Entry& e : h.entries) {
    Tensor t = ops::empty(e.shape, e.dtype);
    const uint64_t nbytes = e.end - e.begin;
    if (nbytes > 0) {
      in.seekg(static_cast<std::streamoff>(h.buffer_start + e.begin));
      in.read(static_cast<char*>(t.raw_data()), static_cast<std::streamsize>(nbytes));
      HIPT_CHECK(in.good(), "{}: safetensors: cannot read tensor '{}'", path, e.name);
    }
    if (e.dtype == DType::Bool) {
      const auto* b = static_cast<const uint8_t*>(t.raw_data());
      for (uint64_t i = 0; i < nbytes; ++i)
        HIPT_CHECK(b[i] <= 1, "{}: safetensors: BOOL tensor '{}' holds byte {} at element {}", path, e.name, b[i], i);
    }
    out.emplace(e.name, std::move(t));
  }
  return out;
}

std::map<std::string, std::string> read_safetensors_metadata(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return read_header(path, in).metadata;
}

void write_safetensors(const std::string& path, const TensorMap& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<std::pair<const std::string*, Tensor>> order;
  for (const auto& [name, t] : tensors) {
    HIPT_CHECK(name != "__metadata__", "{}: safetensors: '__metadata__' cannot name a tensor", path);
    HIPT_CHECK(t.defined(), "{}: safetensors: tensor '{}' is undefined", path, name);
    HIPT_CHECK(t.device().type == DeviceType::CPU, "{}: safetensors: tensor '{}' is on {}, not the CPU", path, name,
               t.device().str());
    order.emplace_back(&name, ops::contiguous(t));
  }
  // Largest dtype first (then by name, as the map is sorted): every tensor stays aligned to its
  // element size once the buffer starts at a multiple of 8.
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return dtype_size(a.second.dtype()) > dtype_size(b.second.dtype());
  });
  json header = json::object();
  uint64_t at = 0;
  for (const auto& [name, t] : order) {
    const uint64_t nbytes = static_cast<uint64_t>(t.numel()) * dtype_size(t.dtype());
    header[*name] = {{"dtype", safetensors_name(t.dtype())}, {"shape", t.shape().vec()}, {"data_offsets", {at, at + nbytes}}};
    at += nbytes;
  }
  // Metadata is informational (source file names, versions): bytes that are not UTF-8 become
  // U+FFFD instead of failing the write, which for embed-region would come after the forward pass.
  if (!metadata.empty())
    header["__metadata__"] = json::parse(json(metadata).dump(-1, ' ', false, json::error_handler_t::replace));
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception&) {
    throw Error(fmt::format("{}: safetensors: a tensor name is not valid UTF-8", path));
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string content;
  content.reserve(8 + text.size() + at);
  for (int i = 0; i < 8; ++i) content.push_back(static_cast<char>((text.size() >> (8 * i)) & 0xff));
  content += text;
  for (const auto& entry : order) {
    const Tensor& t = entry.second;
    if (t.numel() == 0) continue;
    content.append(static_cast<const char*>(t.raw_data()), static_cast<size_t>(t.numel()) * dtype_size(t.dtype()));
  }
  write_file_atomic(path, content);
}

}  // namespace hipt::io
