// PyTorch `.pth` files (torch.save since 1.6): a stored ZIP archive holding `<stem>/data.pkl`, a
// pickle of the saved object, and one raw little-endian record per tensor storage,
// `<stem>/data/<key>`. The pickle is read by a small stack machine that never executes anything:
// only an allowlist of globals is understood (tensors, storages, OrderedDict, argparse.Namespace,
// _codecs.encode, torch.Size); other torch.* globals become opaque placeholders and any other
// global is refused by name. Storages are read from the archive only when a tensor is asked for,
// so taking one sub-dict of a DINO checkpoint (the teacher) never reads the rest.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "io/safetensors.h"  // TensorMap
#include "tensor/tensor.h"

namespace hipt::io {

struct PickleValue;
using PickleRef = std::shared_ptr<PickleValue>;  // shared: the pickle memo aliases objects

// One node of the unpickled tree.
struct PickleValue {
  enum class Kind { None, Bool, Int, Float, String, Tuple, List, Dict, Storage, Tensor, Global, Opaque };
  Kind kind = Kind::None;
  bool boolean = false;
  int64_t integer = 0;  // Int; Storage: its element count
  double real = 0;
  // String: the text (bytes objects too); Storage: its key; Global: "module.name";
  // Opaque: what built it ("torch.device", "int wider than 64 bits", ...); Dict: its class.
  std::string text;
  std::vector<PickleRef> items;                            // Tuple, List
  std::vector<std::pair<PickleRef, PickleRef>> entries;    // Dict, in insertion order
  DType dtype = DType::F32;                                // Storage, Tensor
  PickleRef storage;                                       // Tensor: its Storage value
  int64_t storage_offset = 0;                              // Tensor, in elements
  std::vector<int64_t> sizes, strides;                     // Tensor, in elements

  PickleValue() = default;
  PickleValue(const PickleValue&) = default;
  PickleValue& operator=(const PickleValue&) = default;
  // Frees nested children iteratively: a hostile pickle can nest lists a million deep.
  ~PickleValue();

  bool is_dict() const { return kind == Kind::Dict; }
  // The value under string key `key` of a Dict, or null.
  const PickleValue* get(const std::string& key) const;
  std::string kind_name() const;  // "dict", "tensor", "opaque torch.device", ... for messages
};

// An opened .pth file: the unpickled tree, and tensors materialised from it on demand.
// Not thread-safe (storages are read lazily into a cache).
class PthFile {
 public:
  // Opens the archive and unpickles data.pkl; no storage is read yet. Throws hipt::Error naming the
  // file for: not a ZIP (the pre-1.6 format is named as such), no data.pkl, a big-endian file, a
  // bad or truncated pickle, a refused global.
  explicit PthFile(const std::string& path);
  ~PthFile();
  PthFile(const PthFile&) = delete;
  PthFile& operator=(const PthFile&) = delete;

  const PickleValue& root() const { return *root_; }
  const std::string& path() const { return path_; }

  // The tensor a Kind::Tensor value describes: a view (sizes, strides, offset) of its storage, which
  // is read once and shared by every view of it. Throws naming the file and `name` when `v` is not
  // a tensor, its storage record is missing or too short, or the view leaves the storage.
  Tensor tensor(const PickleValue& v, const std::string& name = "") const;

  // Every tensor under `v` (dicts, namespaces, lists and tuples walked recursively, names joined
  // with dots, list items by index), as tensor() returns them. Opaque values and scalars are skipped.
  TensorMap tensors(const PickleValue& v, const std::string& prefix = "") const;

 private:
  struct Archive;
  std::string path_;
  std::unique_ptr<Archive> archive_;
  PickleRef root_;
};

// All tensors of the file, flattened: PthFile(path).tensors(root()).
TensorMap read_pth(const std::string& path);

}  // namespace hipt::io
