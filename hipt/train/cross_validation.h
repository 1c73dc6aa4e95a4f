// Cross-validated slide-level training and prediction, as `hipt train-slide` and `hipt
// predict-slide` run them.
//
// train-slide writes, per fold k, DIR/fold_<k>/model.safetensors (slide_model_file.h),
// DIR/fold_<k>/predictions.csv (the validation and test bags) and, last, DIR/fold_<k>/metrics.json;
// then DIR/summary.json, also returned. Every file is written atomically. A fold whose
// metrics.json exists with the same settings is finished and kept, so a run stopped midway
// resumes at its first unfinished fold; one written with other settings is an error unless
// `overwrite`. Each fold draws from its own seed (seed + k), so a resumed run equals an
// uninterrupted one.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "hipt/train/slide_trainer.h"

namespace hipt::train {

struct CrossValOptions {
  std::string features_dir, labels_csv, vit4k, out_dir;
  std::string splits_dir;            // CLAM / HIPT splits_K.csv files instead of `folds` seeded splits
  std::vector<std::string> classes;  // subtype: the class order (empty: sorted labels)
  int64_t folds = 5;
  double val_frac = 0.1;
  double label_frac = 1.0;
  bool overwrite = false;
  Device device;
  SlideTrainOptions train;
};

using Warn = std::function<void(const std::string&)>;

// Returns the summary JSON (one line): per metric of the validation and test sets, the value of
// each fold and their mean and standard deviation (ddof 1, NaN folds left out; null when undefined).
std::string run_cross_validation(const CrossValOptions& options, const Warn& warn);

// Every .safetensors in features_dir (or the one file it names) through the model: out_dir/
// predictions.csv and out_dir/attention/<slide>.csv. Returns a JSON summary (one line).
std::string run_predict_slide(const std::string& model_path, const std::string& features, const std::string& out_dir,
                              const Device& device, const Warn& warn);

}  // namespace hipt::train
