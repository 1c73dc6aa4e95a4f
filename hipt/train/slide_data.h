// The data of slide-level learning: the labels CSV (CLAM's subtyping format or MCAT's survival
// format), cross-validation splits by case, the survival bins, and the bags of region features
// that `hipt embed` wrote (one slide per bag for subtyping, one case per bag for survival).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace hipt::train {

enum class SlideTask { kSubtype, kSurvival };
SlideTask parse_slide_task(const std::string& name);  // "subtype" or "survival"
const char* task_name(SlideTask task);

// One case (patient) and its slides, as the labels CSV gives them.
struct CaseLabel {
  std::string case_id;
  std::vector<std::string> slides;  // slide ids, in file order
  std::vector<int64_t> lines;       // the CSV line of each slide (1 = the header)
  int64_t label = 0;                // the class index (subtype) or the survival bin
  double time = 0;                  // survival months
  bool censored = false;            // survival: 1 in the censorship column
};

struct LabelSet {
  SlideTask task = SlideTask::kSubtype;
  std::string path;
  std::vector<std::string> classes;  // subtype: the class names, a label is an index into them
  std::vector<double> bin_edges;     // survival: the n_bins + 1 edges of the time bins
  std::vector<CaseLabel> cases;      // in order of first appearance
  int64_t n_outputs() const {
    return task == SlideTask::kSubtype ? int64_t(classes.size()) : int64_t(bin_edges.size()) - 1;
  }
  // The sampling and stratification group of a case: its class, or bin·2 + censored.
  int64_t stratum(size_t c) const {
    return task == SlideTask::kSubtype ? cases[c].label : cases[c].label * 2 + cases[c].censored;
  }
};

// Reads the labels CSV: columns found by name in the header, others ignored. Subtype: case_id,
// slide_id, label; `classes` lists the allowed labels in class-index order (empty: the sorted
// distinct labels). Survival: case_id, slide_id, survival_months, censorship (0 or 1); the bins
// come from survival_bin_edges. Errors name the file and line: a missing column or cell, an
// unknown label, a negative or non-numeric time, a censorship other than 0/1, a slide listed
// twice, a case whose slides disagree on the label or the time; fewer than 2 classes.
LabelSet read_labels(const std::string& path, SlideTask task, const std::vector<std::string>& classes = {},
                     int64_t n_bins = 4);

// MCAT's bins: the quartiles (n_bins-quantiles, linear interpolation) of the uncensored cases'
// times, the outer edges moved to min - 1e-6 and max + 1e-6 of every case's time.
std::vector<double> survival_bin_edges(const std::vector<CaseLabel>& cases, int64_t n_bins);
// The bin of `time`: edges[k] <= time < edges[k + 1] (pd.cut, right = False), clamped to the ends.
int64_t survival_bin(const std::vector<double>& edges, double time);

// One fold: indices into LabelSet::cases.
struct Split {
  std::vector<size_t> train, val, test;
};

// Seeded, stratified k-fold splits by case: each stratum's cases, shuffled, are dealt over the
// folds; fold k tests on its own cases, and `val_frac` of every stratum of the rest (rounded) is
// its validation set.
std::vector<Split> kfold_splits(const LabelSet& labels, int64_t k, uint64_t seed, double val_frac = 0.1);

// A CLAM / HIPT split file (splits_K.csv): columns train, val and optionally test (an unnamed
// index column is ignored), each cell a slide id or a case id of `labels`; empty cells end short
// columns. An id the labels do not know is an error naming the file and line.
Split read_split_csv(const std::string& path, const LabelSet& labels);
// splits_0.csv, splits_1.csv, ... in `dir`, as many as exist (at least one).
std::vector<Split> read_splits_dir(const std::string& dir, const LabelSet& labels);

// `frac` of `train`, drawn at random without replacement (seeded), in the original order: the
// reference's df.sample(frac, random_state = seed). frac 1 keeps everything.
std::vector<size_t> subsample(const std::vector<size_t>& train, double frac, uint64_t seed);

// A bag: the regions of one slide (subtype) or of every slide of a case (survival).
struct Bag {
  size_t case_index = 0;
  std::vector<std::string> slides;  // slide ids, and their feature files
  std::vector<std::string> files;
  std::vector<int64_t> regions;   // M of each slide
  Tensor region_features;         // f32 [M, 192] (undefined until computed when the ViT-4K differs)
  Tensor coords;                  // i64 [M, 2]
  bool features_match = true;     // the files' vit4k_sha256 is the ViT-4K's
  int64_t size() const;           // M in all
  Tensor patch_features() const;  // [M, 256, 384], read from the files on each call (an error if absent)
};

// The feature file of a slide id in `dir`: <id>.safetensors, or <id without its extension>.
std::string feature_file(const std::string& dir, const std::string& slide_id);

// The bags of the cases, from the feature files in `dir`. A slide without a feature file is an
// error naming the labels file's line; features made with a region size other than 4096 are
// refused naming the file and the size; slides with M = 0 are skipped, each with a warning (a
// case left with no region is dropped). `vit4k_sha256`: the ViT-4K the model uses; files made
// with another get features_match false (and a warning).
std::vector<Bag> load_bags(const LabelSet& labels, const std::string& dir, const std::string& vit4k_sha256,
                           const std::function<void(const std::string&)>& warn);

// One feature file as a bag of its own (prediction without labels); case_index is 0.
Bag load_slide_bag(const std::string& file, const std::string& vit4k_sha256);

}  // namespace hipt::train
