#include "hipt/train/slide_data.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <set>

#include "io/safetensors.h"
#include "tensor/error.h"
#include "tensor/ops.h"

namespace hipt::train {
namespace fs = std::filesystem;

SlideTask parse_slide_task(const std::string& name) {
  if (name == "subtype") return SlideTask::kSubtype;
  if (name == "survival") return SlideTask::kSurvival;
  throw Error(fmt::format("unknown task '{}' (subtype or survival)", name));
}

const char* task_name(SlideTask task) { return task == SlideTask::kSubtype ? "subtype" : "survival"; }

namespace {

// A CSV line split at commas; a field in double quotes may hold commas ("" is a quote).
std::vector<std::string> split_csv_line(std::string line) {
  if (!line.empty() && line.back() == '\r') line.pop_back();
  std::vector<std::string> out(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char ch = line[i];
    if (quoted) {
      if (ch == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        out.back() += '"';
        ++i;
      } else if (ch == '"') {
        quoted = false;
      } else {
        out.back() += ch;
      }
    } else if (ch == '"') {
      quoted = true;
    } else if (ch == ',') {
      out.emplace_back();
    } else {
      out.back() += ch;
    }
  }
  return out;
}

struct CsvTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<int64_t> lines;  // 1-based line of each row
};

CsvTable read_csv(const std::string& path, const char* what) {
  std::ifstream in(path);
  HIPT_CHECK(in.good(), "{} {}: cannot open the file", what, path);
  CsvTable t;
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty() || line == "\r") continue;
    if (t.header.empty()) {
      t.header = split_csv_line(line);
      continue;
    }
    t.rows.push_back(split_csv_line(line));
    t.lines.push_back(n);
  }
  HIPT_CHECK(!t.header.empty(), "{} {}: the file is empty (no header line)", what, path);
  return t;
}

int64_t column(const CsvTable& t, const std::string& name, const std::string& path, const char* what,
               bool required = true) {
  for (size_t i = 0; i < t.header.size(); ++i)
    if (t.header[i] == name) return static_cast<int64_t>(i);
  HIPT_CHECK(!required, "{} {}: line 1: no column '{}'", what, path, name);
  return -1;
}

double parse_number(const std::string& s, bool* ok) {
  try {
    size_t used = 0;
    const double v = std::stod(s, &used);
    *ok = used == s.size();
    return v;
  } catch (const std::exception&) {
    *ok = false;
    return 0;
  }
}

// n_bins-quantile q of sorted values (numpy's linear interpolation).
double quantile(const std::vector<double>& sorted, double q) {
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

std::vector<std::vector<size_t>> by_stratum(const LabelSet& labels, const std::vector<size_t>& cases) {
  std::map<int64_t, std::vector<size_t>> groups;
  for (size_t c : cases) groups[labels.stratum(c)].push_back(c);
  std::vector<std::vector<size_t>> out;
  for (auto& [s, g] : groups) out.push_back(std::move(g));
  return out;
}

}  // namespace

LabelSet read_labels(const std::string& path, SlideTask task, const std::vector<std::string>& classes, int64_t n_bins) {
  const char* what = "labels";
  const CsvTable t = read_csv(path, what);
  LabelSet out;
  out.task = task;
  out.path = path;
  const bool survival = task == SlideTask::kSurvival;
  const int64_t c_case = column(t, "case_id", path, what), c_slide = column(t, "slide_id", path, what);
  const int64_t c_label = survival ? -1 : column(t, "label", path, what);
  const int64_t c_time = survival ? column(t, "survival_months", path, what) : -1;
  const int64_t c_cens = survival ? column(t, "censorship", path, what) : -1;
  const int64_t needed = std::max({c_case, c_slide, c_label, c_time, c_cens}) + 1;

  std::vector<std::string> names = classes;
  if (!survival && names.empty()) {
    std::set<std::string> seen;
    for (const auto& row : t.rows)
      if (static_cast<int64_t>(row.size()) > c_label && !row[static_cast<size_t>(c_label)].empty())
        seen.insert(row[static_cast<size_t>(c_label)]);
    names.assign(seen.begin(), seen.end());
  }
  std::map<std::string, size_t> case_of;
  std::map<std::string, int64_t> slide_line;
  std::vector<std::string> case_label;  // the label or "time,censorship" text of each case's first slide
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const auto& row = t.rows[r];
    const int64_t line = t.lines[r];
    HIPT_CHECK(static_cast<int64_t>(row.size()) >= needed, "{} {}: line {}: {} fields, the header needs {}", what, path,
               line, row.size(), needed);
    auto cell = [&](int64_t c, const char* name) -> const std::string& {
      const std::string& v = row[static_cast<size_t>(c)];
      HIPT_CHECK(!v.empty(), "{} {}: line {}: empty {}", what, path, line, name);
      return v;
    };
    const std::string& case_id = cell(c_case, "case_id");
    const std::string& slide = cell(c_slide, "slide_id");
    auto [it, fresh] = slide_line.emplace(slide, line);
    HIPT_CHECK(fresh, "{} {}: line {}: slide '{}' is listed twice (first on line {})", what, path, line, slide,
               it->second);
    CaseLabel cl;
    std::string key;
    if (survival) {
      bool ok = false;
      cl.time = parse_number(cell(c_time, "survival_months"), &ok);
      HIPT_CHECK(ok && std::isfinite(cl.time) && cl.time >= 0,
                 "{} {}: line {}: survival_months '{}' is not a non-negative number", what, path, line,
                 row[static_cast<size_t>(c_time)]);
      const std::string& c = cell(c_cens, "censorship");
      const double cv = parse_number(c, &ok);
      HIPT_CHECK(ok && (cv == 0 || cv == 1), "{} {}: line {}: censorship '{}' must be 0 or 1", what, path, line, c);
      cl.censored = cv == 1;
      key = fmt::format("survival_months {} and censorship {}", row[static_cast<size_t>(c_time)], c);
    } else {
      const std::string& label = cell(c_label, "label");
      const auto found = std::find(names.begin(), names.end(), label);
      HIPT_CHECK(found != names.end(), "{} {}: line {}: unknown label '{}' (the classes are {})", what, path, line,
                 label, fmt::join(names, ", "));
      cl.label = found - names.begin();
      key = "label " + label;
    }
    auto [cit, new_case] = case_of.emplace(case_id, out.cases.size());
    if (new_case) {
      cl.case_id = case_id;
      out.cases.push_back(cl);
      case_label.push_back(key);
    } else {
      const CaseLabel& first = out.cases[cit->second];
      HIPT_CHECK(case_label[cit->second] == key || (survival && first.time == cl.time && first.censored == cl.censored),
                 "{} {}: line {}: case '{}' has {} here but {} on line {}", what, path, line, case_id, key,
                 case_label[cit->second], first.lines[0]);
    }
    out.cases[cit->second].slides.push_back(slide);
    out.cases[cit->second].lines.push_back(line);
  }
  HIPT_CHECK(!out.cases.empty(), "{} {}: no slides listed", what, path);
  if (survival) {
    HIPT_CHECK(std::any_of(out.cases.begin(), out.cases.end(), [](const CaseLabel& c) { return !c.censored; }),
               "{} {}: every case is censored; the survival bins need uncensored times", what, path);
    out.bin_edges = survival_bin_edges(out.cases, n_bins);
    for (auto& c : out.cases) c.label = survival_bin(out.bin_edges, c.time);
  } else {
    HIPT_CHECK(names.size() >= 2, "{} {}: needs at least 2 classes, found {}", what, path, names.size());
    out.classes = names;
  }
  return out;
}

std::vector<double> survival_bin_edges(const std::vector<CaseLabel>& cases, int64_t n_bins) {
  HIPT_CHECK(n_bins >= 1, "survival bins: n_bins {} must be positive", n_bins);
  std::vector<double> uncensored, all;
  for (const auto& c : cases) {
    all.push_back(c.time);
    if (!c.censored) uncensored.push_back(c.time);
  }
  HIPT_CHECK(!uncensored.empty(), "survival bins: every case is censored; the bins need uncensored times");
  std::sort(uncensored.begin(), uncensored.end());
  std::vector<double> edges;
  for (int64_t k = 0; k <= n_bins; ++k) edges.push_back(quantile(uncensored, double(k) / double(n_bins)));
  for (size_t k = 1; k < edges.size(); ++k)
    HIPT_CHECK(edges[k] > edges[k - 1],
               "survival bins: the uncensored times give equal quantile edges ({}); "
               "too few distinct times for {} bins",
               edges[k], n_bins);
  edges.front() = *std::min_element(all.begin(), all.end()) - 1e-6;
  edges.back() = *std::max_element(all.begin(), all.end()) + 1e-6;
  return edges;
}

int64_t survival_bin(const std::vector<double>& edges, double time) {
  const int64_t K = static_cast<int64_t>(edges.size()) - 1;
  int64_t k = std::upper_bound(edges.begin(), edges.end(), time) - edges.begin() - 1;
  return std::clamp<int64_t>(k, 0, K - 1);
}

std::vector<Split> kfold_splits(const LabelSet& labels, int64_t k, uint64_t seed, double val_frac) {
  const size_t n = labels.cases.size();
  HIPT_CHECK(k >= 2 && static_cast<size_t>(k) <= n, "cross-validation: {} folds need 2 to {} cases", k, n);
  std::vector<size_t> all(n);
  std::iota(all.begin(), all.end(), 0);
  std::mt19937_64 gen(seed);
  std::vector<int64_t> fold_of(n);
  int64_t next = 0;  // dealing continues across strata so the folds stay the same size
  for (auto& group : by_stratum(labels, all)) {
    std::shuffle(group.begin(), group.end(), gen);
    for (size_t c : group) fold_of[c] = next++ % k;
  }
  std::vector<Split> out(static_cast<size_t>(k));
  for (int64_t f = 0; f < k; ++f) {
    Split& s = out[static_cast<size_t>(f)];
    std::vector<size_t> rest;
    for (size_t c = 0; c < n; ++c) (fold_of[c] == f ? s.test : rest).push_back(c);
    std::mt19937_64 vgen(seed + 1000003ULL * static_cast<uint64_t>(f + 1));
    std::set<size_t> val;
    for (auto& group : by_stratum(labels, rest)) {
      std::shuffle(group.begin(), group.end(), vgen);
      const size_t take = static_cast<size_t>(std::lround(val_frac * static_cast<double>(group.size())));
      val.insert(group.begin(), group.begin() + static_cast<std::ptrdiff_t>(std::min(take, group.size())));
    }
    for (size_t c : rest) (val.count(c) ? s.val : s.train).push_back(c);
  }
  return out;
}

Split read_split_csv(const std::string& path, const LabelSet& labels) {
  const char* what = "split";
  const CsvTable t = read_csv(path, what);
  std::map<std::string, size_t> id_to_case;
  for (size_t c = 0; c < labels.cases.size(); ++c) {
    id_to_case[labels.cases[c].case_id] = c;
    for (const auto& s : labels.cases[c].slides) id_to_case[s] = c;
  }
  Split out;
  const std::pair<const char*, std::vector<size_t>*> parts[] = {
      {"train", &out.train}, {"val", &out.val}, {"test", &out.test}};
  std::map<size_t, std::string> placed;  // case -> the column that has it
  for (const auto& [name, dest] : parts) {
    const int64_t col = column(t, name, path, what, std::string(name) != "test");
    if (col < 0) continue;
    std::set<size_t> here;
    for (size_t r = 0; r < t.rows.size(); ++r) {
      if (static_cast<int64_t>(t.rows[r].size()) <= col) continue;
      const std::string& id = t.rows[r][static_cast<size_t>(col)];
      if (id.empty()) continue;
      const auto it = id_to_case.find(id);
      HIPT_CHECK(it != id_to_case.end(), "{} {}: line {}: '{}' in column {} is neither a slide nor a case of {}", what,
                 path, t.lines[r], id, name, labels.path);
      const auto [p, fresh] = placed.emplace(it->second, name);
      HIPT_CHECK(fresh || p->second == name, "{} {}: line {}: case '{}' is in both {} and {}", what, path, t.lines[r],
                 labels.cases[it->second].case_id, p->second, name);
      if (here.insert(it->second).second) dest->push_back(it->second);
    }
  }
  HIPT_CHECK(!out.train.empty(), "{} {}: the train column is empty", what, path);
  return out;
}

std::vector<Split> read_splits_dir(const std::string& dir, const LabelSet& labels) {
  std::vector<Split> out;
  for (int k = 0;; ++k) {
    const std::string p = (fs::path(dir) / fmt::format("splits_{}.csv", k)).string();
    if (!fs::exists(p)) break;
    out.push_back(read_split_csv(p, labels));
  }
  HIPT_CHECK(!out.empty(), "splits {}: no splits_0.csv in the folder", dir);
  return out;
}

std::vector<size_t> subsample(const std::vector<size_t>& train, double frac, uint64_t seed) {
  HIPT_CHECK(frac > 0 && frac <= 1, "label fraction {} must be in (0, 1]", frac);
  if (frac >= 1) return train;
  std::vector<size_t> idx(train.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::mt19937_64 gen(seed);
  std::shuffle(idx.begin(), idx.end(), gen);
  const size_t keep = std::max<size_t>(1, static_cast<size_t>(std::lround(frac * static_cast<double>(train.size()))));
  idx.resize(std::min(keep, idx.size()));
  std::sort(idx.begin(), idx.end());
  std::vector<size_t> out;
  for (size_t i : idx) out.push_back(train[i]);
  return out;
}

int64_t Bag::size() const { return std::accumulate(regions.begin(), regions.end(), int64_t{0}); }

Tensor Bag::patch_features() const {
  std::vector<Tensor> parts;
  for (size_t i = 0; i < files.size(); ++i) {
    if (regions[i] == 0) continue;
    io::TensorMap t = io::read_safetensors(files[i]);
    HIPT_CHECK(t.count("patch_features"), "features {}: no patch_features tensor", files[i]);
    parts.push_back(t.at("patch_features"));
  }
  HIPT_CHECK(!parts.empty(), "bag of {}: no regions", slides.empty() ? "?" : slides[0]);
  return parts.size() == 1 ? parts[0] : ops::cat(parts, 0);
}

std::string feature_file(const std::string& dir, const std::string& slide_id) {
  const fs::path direct = fs::path(dir) / (slide_id + ".safetensors");
  if (fs::exists(direct)) return direct.string();
  const fs::path stem = fs::path(dir) / (fs::path(slide_id).stem().string() + ".safetensors");
  if (fs::exists(stem)) return stem.string();
  return "";
}

namespace {
struct SlideRead {
  Tensor regions, coords;
  int64_t m = 0;
  bool match = true;
};

SlideRead read_slide_features(const std::string& file, const std::string& vit4k_sha256) {
  const auto meta = io::read_safetensors_metadata(file);
  const auto rs = meta.find("region_size");
  HIPT_CHECK(rs == meta.end() || rs->second == "4096",
             "features {}: made with region size {}; the slide-level model needs 4096", file, rs->second);
  io::TensorMap t = io::read_safetensors(file);
  for (const char* name : {"region_features", "coords"})
    HIPT_CHECK(t.count(name), "features {}: no {} tensor (not written by hipt embed?)", file, name);
  SlideRead out;
  out.regions = t.at("region_features");
  out.coords = t.at("coords");
  HIPT_CHECK(out.regions.dim() == 2 && out.regions.size(1) == 192 && out.coords.dim() == 2 &&
                 out.coords.size(0) == out.regions.size(0),
             "features {}: region_features {} and coords {} must be [M, 192] and [M, 2]", file, out.regions.str(),
             out.coords.str());
  out.m = out.regions.size(0);
  const auto sha = meta.find("vit4k_sha256");
  out.match = !vit4k_sha256.empty() && sha != meta.end() && sha->second == vit4k_sha256;
  return out;
}

void finish_bag(Bag& bag, std::vector<SlideRead>& reads) {
  std::vector<Tensor> r, c;
  for (auto& s : reads) {
    if (s.m == 0) continue;
    r.push_back(ops::cast(s.regions, DType::F32));
    c.push_back(ops::cast(s.coords, DType::I64));
  }
  bag.region_features = r.size() == 1 ? r[0] : ops::cat(r, 0);
  bag.coords = c.size() == 1 ? c[0] : ops::cat(c, 0);
  if (!bag.features_match) bag.region_features = Tensor();
}
}  // namespace

std::vector<Bag> load_bags(const LabelSet& labels, const std::string& dir, const std::string& vit4k_sha256,
                           const std::function<void(const std::string&)>& warn) {
  std::vector<Bag> bags;
  bool warned_mismatch = false;
  for (size_t c = 0; c < labels.cases.size(); ++c) {
    const CaseLabel& cl = labels.cases[c];
    Bag bag;
    bag.case_index = c;
    std::vector<SlideRead> reads;
    auto flush = [&] {
      if (bag.size() > 0) {
        finish_bag(bag, reads);
        bags.push_back(std::move(bag));
      }
      bag = Bag();
      bag.case_index = c;
      reads.clear();
    };
    for (size_t s = 0; s < cl.slides.size(); ++s) {
      const std::string file = feature_file(dir, cl.slides[s]);
      HIPT_CHECK(!file.empty(), "labels {}: line {}: slide '{}' has no feature file {}.safetensors in {}", labels.path,
                 cl.lines[s], cl.slides[s], cl.slides[s], dir);
      SlideRead r = read_slide_features(file, vit4k_sha256);
      if (r.m == 0) {
        warn(fmt::format("slide {} ({}) has no regions; skipped", cl.slides[s], file));
        continue;
      }
      if (!r.match && !warned_mismatch) {
        warn(
            fmt::format("features {} were made with another ViT-4K than the given one (vit4k_sha256 differs); "
                        "region features are recomputed from patch_features",
                        file));
        warned_mismatch = true;
      }
      bag.slides.push_back(cl.slides[s]);
      bag.files.push_back(file);
      bag.regions.push_back(r.m);
      bag.features_match = bag.features_match && r.match;
      reads.push_back(std::move(r));
      if (labels.task == SlideTask::kSubtype) flush();
    }
    flush();
  }
  HIPT_CHECK(!bags.empty(), "labels {}: no slide with regions in {}", labels.path, dir);
  return bags;
}

Bag load_slide_bag(const std::string& file, const std::string& vit4k_sha256) {
  std::vector<SlideRead> reads{read_slide_features(file, vit4k_sha256)};
  Bag bag;
  bag.slides = {fs::path(file).stem().string()};
  bag.files = {file};
  bag.regions = {reads[0].m};
  bag.features_match = reads[0].match;
  if (reads[0].m > 0) finish_bag(bag, reads);
  return bag;
}

}  // namespace hipt::train
