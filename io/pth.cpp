#include "io/pth.h"

#include <zip.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <unordered_map>

#include "tensor/ops.h"

namespace hipt::io {

using Kind = PickleValue::Kind;

PickleValue::~PickleValue() {
  std::vector<PickleRef> pending;
  auto take_children = [&pending](PickleValue& v) {
    for (auto& item : v.items) pending.push_back(std::move(item));
    for (auto& [k, val] : v.entries) {
      pending.push_back(std::move(k));
      pending.push_back(std::move(val));
    }
    v.items.clear();
    v.entries.clear();
  };
  take_children(*this);
  while (!pending.empty()) {
    PickleRef v = std::move(pending.back());
    pending.pop_back();
    if (v && v.use_count() == 1) take_children(*v);  // the last owner: its children are ours to free
  }
}

const PickleValue* PickleValue::get(const std::string& key) const {
  if (kind != Kind::Dict) return nullptr;
  const PickleValue* found = nullptr;
  for (const auto& [k, v] : entries)
    if (k->kind == Kind::String && k->text == key) found = v.get();
  return found;
}

std::string PickleValue::kind_name() const {
  switch (kind) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::Tuple: return "tuple";
    case Kind::List: return "list";
    case Kind::Dict: return text.empty() ? "dict" : text;
    case Kind::Storage: return "storage";
    case Kind::Tensor: return "tensor";
    case Kind::Global: return "global " + text;
    case Kind::Opaque: return "opaque " + text;
  }
  return "?";
}

namespace {

PickleRef make(Kind kind) {
  auto v = std::make_shared<PickleValue>();
  v->kind = kind;
  return v;
}

// torch.<X>Storage -> element type.
bool storage_dtype(const std::string& global, DType* out) {
  static const std::pair<const char*, DType> kStorages[] = {
      {"torch.FloatStorage", DType::F32}, {"torch.DoubleStorage", DType::F64}, {"torch.HalfStorage", DType::F16},
      {"torch.BFloat16Storage", DType::BF16}, {"torch.LongStorage", DType::I64}, {"torch.IntStorage", DType::I32},
      {"torch.ByteStorage", DType::U8}, {"torch.BoolStorage", DType::Bool}};
  for (const auto& [name, dtype] : kStorages)
    if (global == name) return *out = dtype, true;
  return false;
}

// ------------------------------------------------------------------------------------------------
// The pickle stack machine. Opcodes: what torch.save writes with protocol 2 (its default) and 4.

class Unpickler {
 public:
  Unpickler(const std::string& file, const std::string& bytes) : file_(file), p_(bytes) {}

  PickleRef run() {
    for (;;) {
      const size_t at = pos_;
      const uint8_t op = u8();
      switch (op) {
        case 0x80: u8(); break;                             // PROTO
        case 0x95: take(8); break;                          // FRAME: framing only
        case '.': {                                         // STOP
          PickleRef result = pop(at);
          return result;
        }
        case '(': marks_.push_back(stack_.size()); break;   // MARK
        case '}': push(make(Kind::Dict)); break;            // EMPTY_DICT
        case ']': push(make(Kind::List)); break;            // EMPTY_LIST
        case ')': push(make(Kind::Tuple)); break;           // EMPTY_TUPLE
        case 'N': push(make(Kind::None)); break;            // NONE
        case 0x88: case 0x89: {                             // NEWTRUE, NEWFALSE
          PickleRef v = make(Kind::Bool);
          v->boolean = op == 0x88;
          push(v);
          break;
        }
        case 'K': push_int(u8()); break;                    // BININT1
        case 'M': push_int(le(2)); break;                   // BININT2
        case 'J': push_int(static_cast<int32_t>(le(4))); break;  // BININT
        case 0x8a: long1(); break;                          // LONG1
        case 'G': {                                         // BINFLOAT: big-endian f64
          uint64_t bits = 0;
          for (char c : take(8)) bits = (bits << 8) | static_cast<uint8_t>(c);
          PickleRef v = make(Kind::Float);
          std::memcpy(&v->real, &bits, 8);
          push(v);
          break;
        }
        case 'X': push_string(take(le(4))); break;          // BINUNICODE
        case 0x8c: push_string(take(u8())); break;          // SHORT_BINUNICODE
        case 'B': push_string(take(le(4))); break;          // BINBYTES
        case 'C': push_string(take(u8())); break;           // SHORT_BINBYTES
        case 't': push(tuple(pop_mark(at))); break;         // TUPLE
        case 0x85: case 0x86: case 0x87: {                  // TUPLE1, TUPLE2, TUPLE3
          const size_t n = op - 0x84u;
          need(n, at);
          std::vector<PickleRef> items(stack_.end() - static_cast<ptrdiff_t>(n), stack_.end());
          stack_.resize(stack_.size() - n);
          push(tuple(std::move(items)));
          break;
        }
        case 'l': {                                         // LIST
          PickleRef v = make(Kind::List);
          v->items = pop_mark(at);
          push(v);
          break;
        }
        case 'd': {                                         // DICT
          PickleRef v = make(Kind::Dict);
          set_items(*v, pop_mark(at), at);
          push(v);
          break;
        }
        case 'q': memo_put(u8(), at); break;                // BINPUT
        case 'r': memo_put(le(4), at); break;               // LONG_BINPUT
        case 0x94: memo_put(memo_.size(), at); break;       // MEMOIZE
        case 'h': memo_get(u8(), at); break;                // BINGET
        case 'j': memo_get(le(4), at); break;               // LONG_BINGET
        case 'c': {                                         // GLOBAL "module\nname\n"
          std::string module = line(), name = line();
          push(global(module, name, at));
          break;
        }
        case 0x93: {                                        // STACK_GLOBAL
          PickleRef name = pop(at), module = pop(at);
          check(module->kind == Kind::String && name->kind == Kind::String, at, "STACK_GLOBAL needs two strings");
          push(global(module->text, name->text, at));
          break;
        }
        case 'R': {                                         // REDUCE: callable(*args)
          PickleRef args = pop(at), callable = pop(at);
          push(reduce(*callable, *args, at));
          break;
        }
        case 0x81: {                                        // NEWOBJ: cls.__new__(cls, *args)
          PickleRef args = pop(at), cls = pop(at);
          push(reduce(*cls, *args, at));
          break;
        }
        case 'b': {                                         // BUILD: obj.__setstate__(state)
          PickleRef state = pop(at);
          build(*top(at), *state, at);
          break;
        }
        case 's': {                                         // SETITEM
          PickleRef value = pop(at), key = pop(at);
          set_items(*top(at), {key, value}, at);
          break;
        }
        case 'u': {                                         // SETITEMS
          std::vector<PickleRef> kv = pop_mark(at);
          set_items(*top(at), std::move(kv), at);
          break;
        }
        case 'a': {                                         // APPEND
          PickleRef v = pop(at);
          append(*top(at), {v}, at);
          break;
        }
        case 'e': {                                         // APPENDS
          std::vector<PickleRef> vs = pop_mark(at);
          append(*top(at), std::move(vs), at);
          break;
        }
        case 'Q': push(persistent(*pop(at), at)); break;    // BINPERSID
        default:
          fail(at, fmt::format("unsupported pickle opcode 0x{:02x}", op));
      }
    }
  }

 private:
  [[noreturn]] void fail(size_t at, const std::string& what) const {
    throw Error(fmt::format("{}: data.pkl byte {}: {}", file_, at, what));
  }
  void check(bool ok, size_t at, const char* what) const {
    if (!ok) fail(at, what);
  }

  // --- reading the byte stream, every read bounds-checked
  std::string take(uint64_t n) {
    if (n > p_.size() - pos_) fail(pos_, fmt::format("pickle truncated: {} bytes wanted, {} left", n, p_.size() - pos_));
    std::string s = p_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  uint8_t u8() { return static_cast<uint8_t>(take(1)[0]); }
  uint32_t le(int n) {
    uint32_t v = 0;
    std::string b = take(n);
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b[i]);
    return v;
  }
  std::string line() {
    size_t end = p_.find('\n', pos_);
    if (end == std::string::npos) fail(pos_, "pickle truncated inside GLOBAL");
    std::string s = p_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return s;
  }

  // --- stack
  void push(PickleRef v) { stack_.push_back(std::move(v)); }
  void need(size_t n, size_t at) const {
    const size_t floor = marks_.empty() ? 0 : marks_.back();
    if (stack_.size() < floor + n) fail(at, "pickle stack underflow");
  }
  PickleRef pop(size_t at) {
    need(1, at);
    PickleRef v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  const PickleRef& top(size_t at) const {
    need(1, at);
    return stack_.back();
  }
  std::vector<PickleRef> pop_mark(size_t at) {
    if (marks_.empty()) fail(at, "pickle has no MARK to pop to");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<PickleRef> items(stack_.begin() + static_cast<ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  void push_int(int64_t i) {
    PickleRef v = make(Kind::Int);
    v->integer = i;
    push(v);
  }
  void push_string(std::string s) {
    PickleRef v = make(Kind::String);
    v->text = std::move(s);
    push(v);
  }
  // LONG1: n bytes, little-endian two's complement.
  void long1() {
    const uint8_t n = u8();
    std::string b = take(n);
    if (n > 8) {
      PickleRef v = make(Kind::Opaque);
      v->text = "int wider than 64 bits";
      return push(v);
    }
    uint64_t u = 0;
    for (int i = n - 1; i >= 0; --i) u = (u << 8) | static_cast<uint8_t>(b[i]);
    if (n > 0 && n < 8 && (static_cast<uint8_t>(b[n - 1]) & 0x80)) u |= ~uint64_t{0} << (8 * n);  // sign-extend
    push_int(static_cast<int64_t>(u));
  }
  static PickleRef tuple(std::vector<PickleRef> items) {
    PickleRef v = make(Kind::Tuple);
    v->items = std::move(items);
    return v;
  }

  // --- memo: entries are shared, never copied, so an object pickled twice is one object
  void memo_put(uint64_t key, size_t at) { memo_[key] = top(at); }
  void memo_get(uint64_t key, size_t at) {
    auto it = memo_.find(key);
    if (it == memo_.end()) fail(at, fmt::format("pickle memo has no entry {}", key));
    push(it->second);
  }

  // --- containers
  void set_items(PickleValue& dict, std::vector<PickleRef> kv, size_t at) {
    check(dict.kind == Kind::Dict, at, "SETITEM(S) on something that is not a dict");
    check(kv.size() % 2 == 0, at, "SETITEMS with an odd number of values");
    // A repeated key is kept twice; get() and the flattening both let the later one win, as Python does.
    for (size_t i = 0; i < kv.size(); i += 2) dict.entries.emplace_back(kv[i], kv[i + 1]);
  }
  void append(PickleValue& list, std::vector<PickleRef> vs, size_t at) {
    check(list.kind == Kind::List, at, "APPEND(S) on something that is not a list");
    for (auto& v : vs) list.items.push_back(std::move(v));
  }

  // --- globals: the allowlist. Nothing is ever called; each known global has a fixed meaning.
  PickleRef global(const std::string& module, const std::string& name, size_t at) {
    const std::string full = module + "." + name;
    static const char* kKnown[] = {"collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
                                   "torch._utils._rebuild_parameter", "argparse.Namespace", "_codecs.encode",
                                   "torch.Size"};
    bool known = false;
    for (const char* k : kKnown) known = known || full == k;
    DType dtype;
    known = known || storage_dtype(full, &dtype) || module == "torch" || module.rfind("torch.", 0) == 0;
    if (!known)
      fail(at, fmt::format("refusing global '{}' (allowed: tensors, storages, collections.OrderedDict, "
                           "argparse.Namespace, _codecs.encode, torch.*)", full));
    PickleRef v = make(Kind::Global);
    v->text = full;
    return v;
  }

  PickleRef reduce(const PickleValue& callable, const PickleValue& args, size_t at) {
    check(callable.kind == Kind::Global, at, "REDUCE/NEWOBJ of something that is not a global");
    check(args.kind == Kind::Tuple, at, "REDUCE/NEWOBJ arguments are not a tuple");
    const std::string& f = callable.text;
    const auto& a = args.items;
    if (f == "collections.OrderedDict" || f == "argparse.Namespace") {
      // OrderedDict() or OrderedDict([(k, v), ...]); a Namespace's fields arrive by BUILD.
      PickleRef d = make(Kind::Dict);
      d->text = f == "argparse.Namespace" ? "argparse.Namespace" : "";
      if (!a.empty()) {
        check(a.size() == 1 && a[0]->kind == Kind::List, at, "OrderedDict takes one list of pairs");
        for (const PickleRef& kv : a[0]->items) {
          check(kv->kind == Kind::Tuple && kv->items.size() == 2, at, "OrderedDict item is not a pair");
          set_items(*d, kv->items, at);
        }
      }
      return d;
    }
    if (f == "torch._utils._rebuild_tensor_v2") return rebuild_tensor(a, at);
    if (f == "torch._utils._rebuild_parameter") {
      check(!a.empty() && a[0]->kind == Kind::Tensor, at, "_rebuild_parameter needs a tensor");
      return a[0];
    }
    if (f == "torch.Size") {
      check(a.size() == 1 && a[0]->kind == Kind::Tuple, at, "torch.Size needs one tuple");
      return a[0];
    }
    if (f == "_codecs.encode") return encode_latin1(a, at);
    PickleRef v = make(Kind::Opaque);  // torch.device(...), a dtype, ...: kept only by name
    v->text = f;
    return v;
  }

  // Protocol 2 pickles bytes as _codecs.encode(text, 'latin1'): code points < 256 become bytes.
  PickleRef encode_latin1(const std::vector<PickleRef>& a, size_t at) {
    check(a.size() == 2 && a[0]->kind == Kind::String && a[1]->kind == Kind::String && a[1]->text == "latin1", at,
          "_codecs.encode supports (str, 'latin1') only");
    const std::string& s = a[0]->text;
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
      const auto c = static_cast<uint8_t>(s[i]);
      if (c < 0x80) {
        out.push_back(static_cast<char>(c));
      } else {
        check((c & 0xe0) == 0xc0 && c <= 0xc3 && i + 1 < s.size(), at, "_codecs.encode: text is not latin-1");
        out.push_back(static_cast<char>(((c & 0x03) << 6) | (static_cast<uint8_t>(s[++i]) & 0x3f)));
      }
    }
    PickleRef v = make(Kind::String);
    v->text = std::move(out);
    return v;
  }

  // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
  PickleRef rebuild_tensor(const std::vector<PickleRef>& a, size_t at) {
    check(a.size() >= 4 && a[0]->kind == Kind::Storage && a[1]->kind == Kind::Int && a[2]->kind == Kind::Tuple &&
              a[3]->kind == Kind::Tuple,
          at, "_rebuild_tensor_v2 arguments are not (storage, offset, sizes, strides, ...)");
    PickleRef t = make(Kind::Tensor);
    t->storage = a[0];
    t->dtype = a[0]->dtype;
    t->storage_offset = a[1]->integer;
    check(a[2]->items.size() == a[3]->items.size(), at, "_rebuild_tensor_v2: sizes and strides differ in length");
    for (size_t d = 0; d < a[2]->items.size(); ++d) {
      check(a[2]->items[d]->kind == Kind::Int && a[3]->items[d]->kind == Kind::Int, at,
            "_rebuild_tensor_v2: a size or stride is not an int");
      t->sizes.push_back(a[2]->items[d]->integer);
      t->strides.push_back(a[3]->items[d]->integer);
    }
    return t;
  }

  // BUILD: a Namespace takes its fields; the state of an OrderedDict (its `_metadata` attribute)
  // and of opaque objects is dropped, since it is not part of the mapping.
  void build(PickleValue& obj, const PickleValue& state, size_t at) {
    if (obj.kind == Kind::Dict && obj.text == "argparse.Namespace") {
      check(state.kind == Kind::Dict, at, "argparse.Namespace state is not a dict");
      std::vector<PickleRef> kv;
      for (const auto& [k, v] : state.entries) kv.insert(kv.end(), {k, v});
      return set_items(obj, std::move(kv), at);
    }
    check(obj.kind == Kind::Dict || obj.kind == Kind::Opaque, at, "BUILD on something that is not an object");
  }

  // BINPERSID: ('storage', torch.<X>Storage, key, location, numel) -> a storage description.
  PickleRef persistent(const PickleValue& pid, size_t at) {
    const auto& a = pid.items;
    check(pid.kind == Kind::Tuple && a.size() == 5 && a[0]->kind == Kind::String && a[0]->text == "storage" &&
              a[1]->kind == Kind::Global && a[2]->kind == Kind::String && a[4]->kind == Kind::Int,
          at, "persistent id is not ('storage', type, key, location, numel)");
    PickleRef s = make(Kind::Storage);
    if (!storage_dtype(a[1]->text, &s->dtype)) fail(at, fmt::format("unsupported storage type '{}'", a[1]->text));
    s->text = a[2]->text;
    s->integer = a[4]->integer;
    check(s->integer >= 0 && s->integer <= std::numeric_limits<int64_t>::max() / 8, at, "storage size out of range");
    return s;
  }

  const std::string& file_;
  const std::string& p_;
  size_t pos_ = 0;
  std::vector<PickleRef> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PickleRef> memo_;
};

}  // namespace

// ------------------------------------------------------------------------------------------------
// The archive: libzip over the central directory (torch writes sizes of 0 in local headers).

struct PthFile::Archive {
  zip_t* zip = nullptr;
  std::string prefix;  // "<stem>/"
  std::map<std::string, std::shared_ptr<Storage>> storages;
  ~Archive() {
    if (zip) zip_discard(zip);
  }

  // The entry's bytes, or false when there is no such entry.
  bool read(const std::string& file, const std::string& name, std::string* out, uint64_t max_bytes) const {
    zip_int64_t index = zip_name_locate(zip, name.c_str(), 0);
    if (index < 0) return false;
    zip_stat_t st;
    HIPT_CHECK(zip_stat_index(zip, static_cast<zip_uint64_t>(index), 0, &st) == 0 && (st.valid & ZIP_STAT_SIZE), "{}: cannot stat {}: {}",
               file, name, zip_strerror(zip));
    HIPT_CHECK(st.size <= max_bytes, "{}: {} is {} bytes (more than {})", file, name, st.size, max_bytes);
    // A stored entry holds its bytes and a deflated one expands at most 1032-fold: a larger claim
    // would be allocated below before the read finds out.
    HIPT_CHECK(!(st.valid & ZIP_STAT_COMP_SIZE) || st.size <= st.comp_size * 1032 + 1024,
               "{}: {} claims {} bytes from {} compressed bytes, more than they can hold", file, name, st.size,
               st.comp_size);
    zip_file_t* f = zip_fopen_index(zip, static_cast<zip_uint64_t>(index), 0);
    HIPT_CHECK(f != nullptr, "{}: cannot open {} in the archive: {}", file, name, zip_strerror(zip));
    out->resize(st.size);
    zip_int64_t got = st.size ? zip_fread(f, out->data(), st.size) : 0;
    std::string err = got < 0 ? zip_file_strerror(f) : "";
    zip_fclose(f);
    HIPT_CHECK(got == static_cast<zip_int64_t>(st.size), "{}: cannot read {} from the archive ({} of {} bytes) {}", file,
               name, got, st.size, err);
    return true;
  }
};

PthFile::PthFile(const std::string& path) : path_(path), archive_(std::make_unique<Archive>()) {
  {
    std::ifstream in(path, std::ios::binary);
    HIPT_CHECK(in.good(), "{}: cannot open", path);
    char magic[4] = {};
    in.read(magic, 4);
    HIPT_CHECK(std::memcmp(magic, "PK\x03\x04", 4) == 0 || std::memcmp(magic, "PK\x05\x06", 4) == 0,
               "{}: not a ZIP archive{}", path,
               static_cast<uint8_t>(magic[0]) == 0x80
                   ? " (a pickle: the legacy torch.save format from before PyTorch 1.6, not supported; re-save it "
                     "with a newer torch)"
                   : "");
  }
  int err = 0;
  archive_->zip = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &err);
  if (!archive_->zip) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, err);
    std::string msg = zip_error_strerror(&ze);
    zip_error_fini(&ze);
    throw Error(fmt::format("{}: cannot read the ZIP archive (truncated?): {}", path, msg));
  }
  const zip_int64_t n = zip_get_num_entries(archive_->zip, 0);
  std::string pickle_name;
  for (zip_int64_t i = 0; i < n; ++i) {
    const char* name = zip_get_name(archive_->zip, static_cast<zip_uint64_t>(i), 0);
    std::string s = name ? name : "";
    if (s == "data.pkl" || (s.size() > 9 && s.compare(s.size() - 9, 9, "/data.pkl") == 0)) {
      pickle_name = s;
      break;
    }
  }
  HIPT_CHECK(!pickle_name.empty(), "{}: ZIP archive has no data.pkl: not a torch.save file", path);
  archive_->prefix = pickle_name.substr(0, pickle_name.size() - 8);
  std::string byteorder;
  if (archive_->read(path, archive_->prefix + "byteorder", &byteorder, 64))
    HIPT_CHECK(byteorder == "little", "{}: byteorder is '{}'; only little-endian files are supported", path, byteorder);
  std::string pickle;
  archive_->read(path, pickle_name, &pickle, uint64_t{1} << 31);
  root_ = Unpickler(path, pickle).run();
}

PthFile::~PthFile() = default;

Tensor PthFile::tensor(const PickleValue& v, const std::string& name) const {
  const std::string what = name.empty() ? std::string("value") : "'" + name + "'";
  HIPT_CHECK(v.kind == Kind::Tensor, "{}: {} is a {}, not a tensor", path_, what, v.kind_name());
  const PickleValue& s = *v.storage;
  HIPT_CHECK(v.sizes.size() <= static_cast<size_t>(kMaxDims), "{}: {} has {} dims (at most {})", path_, what,
             v.sizes.size(), kMaxDims);
  // The last element the view touches must lie inside the storage's declared element count.
  HIPT_CHECK(v.storage_offset >= 0, "{}: {} has negative storage offset {}", path_, what, v.storage_offset);
  // Bounded sizes and strides keep every product below in range (2^48 elements is 1 PiB of f32).
  constexpr int64_t kMax = int64_t{1} << 48;
  __int128 last = v.storage_offset, numel = 1;
  bool empty = false;
  for (size_t d = 0; d < v.sizes.size(); ++d) {
    HIPT_CHECK(v.sizes[d] >= 0 && v.strides[d] >= 0, "{}: {} has negative size or stride in dim {}", path_, what, d);
    HIPT_CHECK(v.sizes[d] < kMax && v.strides[d] < kMax && v.storage_offset < kMax,
               "{}: {} has an implausibly large size, stride or offset", path_, what);
    empty = empty || v.sizes[d] == 0;
    if (v.sizes[d] > 0) last += static_cast<__int128>(v.sizes[d] - 1) * v.strides[d];
    if (!empty) numel = std::min<__int128>(numel * v.sizes[d], kMax);
  }
  HIPT_CHECK(numel < kMax, "{}: {} has more than 2^48 elements", path_, what);
  HIPT_CHECK(empty || last < s.integer,
             "{}: {} (sizes {}, strides {}, offset {}) reaches element {} of storage '{}' which holds {}", path_, what,
             Shape(v.sizes).str(), Shape(v.strides).str(), v.storage_offset, static_cast<int64_t>(last), s.text,
             s.integer);
  auto cached = archive_->storages.find(s.text);
  if (cached == archive_->storages.end()) {
    const uint64_t nbytes = static_cast<uint64_t>(s.integer) * dtype_size(s.dtype);
    std::string bytes;
    const std::string entry = archive_->prefix + "data/" + s.text;
    HIPT_CHECK(archive_->read(path_, entry, &bytes, nbytes), "{}: storage record {} for {} is missing", path_, entry,
               what);
    HIPT_CHECK(bytes.size() == nbytes, "{}: storage record {} for {} has {} bytes, expected {} ({} x {})", path_, entry,
               what, bytes.size(), nbytes, s.integer, dtype_name(s.dtype));
    auto storage = Storage::allocate(nbytes, Device{});
    if (nbytes) std::memcpy(storage->data(), bytes.data(), nbytes);
    cached = archive_->storages.emplace(s.text, std::move(storage)).first;
  }
  return Tensor(cached->second, Shape(v.sizes), Shape(v.strides), v.storage_offset, v.dtype);
}

namespace {
void walk(const PthFile& file, const PickleValue& v, const std::string& name, int depth, TensorMap* out) {
  HIPT_CHECK(depth < 64, "{}: '{}' is nested more than 64 levels deep (a cycle?)", file.path(), name);
  auto join = [&](const std::string& key) { return name.empty() ? key : name + "." + key; };
  switch (v.kind) {
    case Kind::Tensor: (*out)[name] = file.tensor(v, name); break;
    case Kind::Dict:
      for (const auto& [k, child] : v.entries) {
        if (k->kind == Kind::String) walk(file, *child, join(k->text), depth + 1, out);
        else if (k->kind == Kind::Int) walk(file, *child, join(std::to_string(k->integer)), depth + 1, out);
      }
      break;
    case Kind::List:
    case Kind::Tuple:
      for (size_t i = 0; i < v.items.size(); ++i) walk(file, *v.items[i], join(std::to_string(i)), depth + 1, out);
      break;
    default: break;
  }
}
}  // namespace

TensorMap PthFile::tensors(const PickleValue& v, const std::string& prefix) const {
  TensorMap out;
  walk(*this, v, prefix, 0, &out);
  return out;
}

TensorMap read_pth(const std::string& path) {
  PthFile file(path);
  return file.tensors(file.root());
}

}  // namespace hipt::io
