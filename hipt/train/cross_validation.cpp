#include "hipt/train/cross_validation.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "hipt/pipeline/embed_pipeline.h"
#include "hipt/pipeline/progress.h"
#include "hipt/train/slide_model_file.h"
#include "io/atomic_file.h"

namespace hipt::train {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ";" : "") + v[i];
  return out;
}

json number_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// The settings that decide a fold's result: a finished fold is reused only under the same ones.
json run_settings(const CrossValOptions& o, const LabelSet& labels, const std::string& vit4k_sha256,
                  const std::vector<Split>& splits) {
  const SlideTrainOptions& t = o.train;
  json folds = json::array();
  for (const Split& s : splits) folds.push_back({{"train", s.train}, {"val", s.val}, {"test", s.test}});
  return {{"task", task_name(t.task)},
          {"labels_sha256", file_sha256(o.labels_csv)},
          {"classes", labels.classes},
          {"bin_edges", labels.bin_edges},
          {"vit4k_sha256", vit4k_sha256},
          {"splits", folds},
          {"label_frac", o.label_frac},
          {"epochs", t.epochs},
          {"lr", t.lr},
          {"weight_decay", t.weight_decay},
          {"alpha", t.alpha},
          {"gc", t.gc},
          {"dropout", t.dropout},
          {"finetune_vit4k", t.finetune_vit4k},
          {"early_stopping", t.early_stopping},
          {"patience", t.patience},
          {"weighted_sampling", t.weighted_sampling},
          {"seed", t.seed}};
}

json training_config(const CrossValOptions& o, int64_t fold) {
  const SlideTrainOptions& t = o.train;
  return {{"fold", fold},
          {"epochs", t.epochs},
          {"lr", t.lr},
          {"weight_decay", t.weight_decay},
          {"alpha", t.alpha},
          {"gc", t.gc},
          {"dropout", t.dropout},
          {"early_stopping", t.early_stopping},
          {"patience", t.patience},
          {"seed", t.seed + static_cast<uint64_t>(fold)},
          {"label_frac", o.label_frac},
          {"labels", o.labels_csv},
          {"features", o.features_dir},
          {"vit4k", o.vit4k}};
}

std::string predictions_header(const LabelSet& labels) {
  if (labels.task == SlideTask::kSubtype) {
    std::string h = "split,case_id,slide_id,label,predicted";
    for (const auto& c : labels.classes) h += ",p_" + csv_field(c);
    return h + "\n";
  }
  std::string h = "split,case_id,slide_id,survival_months,censorship,bin,risk,predicted_bin";
  for (int64_t k = 0; k < labels.n_outputs(); ++k) h += fmt::format(",hazard_{}", k);
  return h + "\n";
}

std::string prediction_row(const char* split, const LabelSet& labels, const Bag& bag, const BagPrediction& p) {
  const CaseLabel& c = labels.cases[bag.case_index];
  std::string row = fmt::format("{},{},{}", split, csv_field(c.case_id), csv_field(joined(bag.slides)));
  if (labels.task == SlideTask::kSubtype) {
    row += fmt::format(",{},{}", csv_field(labels.classes[static_cast<size_t>(c.label)]),
                       csv_field(labels.classes[static_cast<size_t>(p.y_hat)]));
  } else {
    row += fmt::format(",{},{},{},{},{}", c.time, c.censored ? 1 : 0, c.label, p.risk, p.y_hat);
  }
  for (double v : p.probs) row += fmt::format(",{}", v);
  return row + "\n";
}

// mean and std (ddof 1) of the finite values, as pandas' mean() and std() skip NaN.
json mean_std(const std::vector<double>& v) {
  std::vector<double> f;
  for (double x : v)
    if (std::isfinite(x)) f.push_back(x);
  double mean = NAN, sd = NAN;
  if (!f.empty()) {
    mean = 0;
    for (double x : f) mean += x;
    mean /= static_cast<double>(f.size());
  }
  if (f.size() > 1) {
    double ss = 0;
    for (double x : f) ss += (x - mean) * (x - mean);
    sd = std::sqrt(ss / static_cast<double>(f.size() - 1));
  }
  json per_fold = json::array();
  for (double x : v) per_fold.push_back(number_or_null(x));
  return {{"mean", number_or_null(mean)}, {"std", number_or_null(sd)}, {"folds", per_fold}};
}

double as_double(const json& j) { return j.is_number() ? j.get<double>() : NAN; }

}  // namespace

std::string run_cross_validation(const CrossValOptions& o, const Warn& warn) {
  const auto start = std::chrono::steady_clock::now();
  const LabelSet labels = read_labels(o.labels_csv, o.train.task, o.classes);
  const std::vector<Split> splits = o.splits_dir.empty() ? kfold_splits(labels, o.folds, o.train.seed, o.val_frac)
                                                         : read_splits_dir(o.splits_dir, labels);
  const std::string vit4k_sha256 = o.vit4k.empty() ? "" : file_sha256(o.vit4k);
  std::vector<Bag> bags = load_bags(labels, o.features_dir, vit4k_sha256, warn);
  std::vector<std::vector<Bag*>> bags_of(labels.cases.size());
  for (Bag& b : bags) bags_of[b.case_index].push_back(&b);
  const json settings = run_settings(o, labels, vit4k_sha256, splits);
  std::error_code ec;
  fs::create_directories(o.out_dir, ec);
  HIPT_CHECK(fs::is_directory(o.out_dir), "--out {}: cannot create the folder", o.out_dir);

  const int64_t K = static_cast<int64_t>(splits.size());
  std::vector<json> fold_metrics;
  int64_t reused = 0;
  for (int64_t k = 0; k < K; ++k) {
    const fs::path dir = fs::path(o.out_dir) / fmt::format("fold_{}", k);
    const std::string metrics_path = (dir / "metrics.json").string();
    if (fs::exists(metrics_path) && !o.overwrite) {
      std::ifstream in(metrics_path);
      json done = json::parse(in, nullptr, false);
      HIPT_CHECK(!done.is_discarded() && done.contains("run") && done["run"] == settings,
                 "{} holds the results of a run with other settings (labels, splits, options or ViT-4K); "
                 "--overwrite redoes them",
                 metrics_path);
      fold_metrics.push_back(done);
      ++reused;
      fmt::print(stderr, "fold {}/{}: finished earlier, kept ({})\n", k + 1, K, metrics_path);
      continue;
    }
    const Split& split = splits[static_cast<size_t>(k)];
    FoldData data;
    auto add = [&](const std::vector<size_t>& cases, std::vector<Bag*>& to) {
      for (size_t c : cases) to.insert(to.end(), bags_of[c].begin(), bags_of[c].end());
    };
    add(subsample(split.train, o.label_frac, o.train.seed + static_cast<uint64_t>(k)), data.train);
    add(split.val, data.val);
    add(split.test, data.test);
    HIPT_CHECK(!data.train.empty(), "fold {}: no training bag has regions", k);
    SlideTrainOptions t = o.train;
    t.seed = o.train.seed + static_cast<uint64_t>(k);
    auto model = make_slide_model(labels.n_outputs(), t, o.vit4k);
    model->to(o.device);
    std::optional<hipt::Progress> progress;
    int64_t shown_epoch = 0;
    TrainSummary ts = train_slide_model(*model, labels, data, t, [&](int64_t epoch, int64_t done, int64_t total) {
      if (epoch != shown_epoch) {
        if (progress) progress->finish();
        progress.emplace(fmt::format("fold {}/{} epoch {}/{}", k + 1, K, epoch, t.epochs), total, "bags");
        shown_epoch = epoch;
      }
      progress->update(done);
    });
    if (progress) progress->finish();

    std::string csv = predictions_header(labels);
    json metrics = {{"fold", k},
                    {"epochs_run", ts.epochs_run},
                    {"best_epoch", ts.best_epoch},
                    {"train_bags", data.train.size()},
                    {"train_loss", ts.train_loss},
                    {"val_loss", ts.val_loss}};
    for (auto [name, set] : {std::pair<const char*, std::vector<Bag*>*>{"val", &data.val}, {"test", &data.test}}) {
      std::vector<BagPrediction> preds;
      std::vector<const Bag*> done;
      for (Bag* b : *set) {
        preds.push_back(predict_bag(*model, *b, t.task, t.finetune_vit4k, &labels.cases[b->case_index], t.alpha));
        done.push_back(b);
        csv += prediction_row(name, labels, *b, preds.back());
      }
      json m = json::object();
      for (const auto& [key, v] : slide_metrics(preds, done, labels)) m[key] = number_or_null(v);
      metrics[name] = m;
    }
    metrics["run"] = settings;
    SlideModelInfo info;
    info.task = t.task;
    info.classes = labels.classes;
    info.bin_edges = labels.bin_edges;
    info.n_outputs = labels.n_outputs();
    info.finetune_vit4k = t.finetune_vit4k;
    info.vit4k_sha256 = t.finetune_vit4k ? "" : vit4k_sha256;
    info.config_json = dump(training_config(o, k));
    fs::create_directories(dir);
    save_slide_model((dir / "model.safetensors").string(), *model, info);
    write_file_atomic((dir / "predictions.csv").string(), csv);
    write_file_atomic(metrics_path, metrics.dump(2) + "\n");
    fold_metrics.push_back(metrics);
    const char* key = t.task == SlideTask::kSubtype ? "auc" : "c_index";
    fmt::print(stderr, "fold {}/{}: val {} {:.4f}, test {} {:.4f}\n", k + 1, K, key, as_double(metrics["val"][key]),
               key, as_double(metrics["test"][key]));
  }

  json summary = {{"task", task_name(o.train.task)},
                  {"folds", K},
                  {"reported", o.train.task == SlideTask::kSubtype ? "test_auc" : "val_c_index"},
                  {"out_dir", o.out_dir},
                  {"cases", labels.cases.size()},
                  {"bags", bags.size()}};
  if (o.train.task == SlideTask::kSubtype)
    summary["classes"] = labels.classes;
  else
    summary["bin_edges"] = labels.bin_edges;
  json metrics = json::object();
  for (const char* set : {"val", "test"}) {
    std::map<std::string, std::vector<double>> values;
    for (const json& m : fold_metrics)
      for (const auto& [key, v] : m[set].items())
        if (key != "bags") values[key].push_back(as_double(v));
    for (const auto& [key, v] : values) metrics[std::string(set) + "_" + key] = mean_std(v);
  }
  summary["metrics"] = metrics;
  write_file_atomic((fs::path(o.out_dir) / "summary.json").string(), summary.dump(2) + "\n");
  summary["folds_reused"] = reused;
  summary["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return dump(summary);
}

std::string run_predict_slide(const std::string& model_path, const std::string& features, const std::string& out_dir,
                              const Device& device, const Warn& warn) {
  LoadedSlideModel loaded = load_slide_model(model_path);
  const SlideModelInfo& info = loaded.info;
  loaded.model->to(device);
  std::vector<std::string> files;
  if (fs::is_directory(features)) {
    for (const auto& e : fs::directory_iterator(features))
      if (e.path().extension() == ".safetensors") files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
  } else {
    HIPT_CHECK(fs::exists(features), "--features {}: no such file or folder", features);
    files.push_back(features);
  }
  HIPT_CHECK(!files.empty(), "--features {}: no .safetensors files", features);
  const bool subtype = info.task == SlideTask::kSubtype;
  std::string csv = "slide";
  if (subtype) {
    for (const auto& c : info.classes) csv += ",p_" + csv_field(c);
    csv += ",predicted\n";
  } else {
    csv += ",risk";
    for (int64_t k = 0; k < info.n_outputs; ++k) csv += fmt::format(",hazard_{}", k);
    csv += ",predicted_bin\n";
  }
  json skipped = json::array();
  int64_t predicted = 0;
  const fs::path att_dir = fs::path(out_dir) / "attention";
  for (const std::string& file : files) {
    Bag bag = load_slide_bag(file, info.vit4k_sha256);
    const std::string slide = bag.slides[0];
    if (bag.size() == 0) {
      warn(fmt::format("slide {} ({}) has no regions; skipped", slide, file));
      skipped.push_back(slide);
      continue;
    }
    if (!info.finetune_vit4k && !bag.features_match)
      warn(
          fmt::format("features {} were made with another ViT-4K than the model's; region features are recomputed "
                      "from patch_features",
                      file));
    BagPrediction p = predict_bag(*loaded.model, bag, info.task, info.finetune_vit4k);
    csv += csv_field(slide);
    if (subtype) {
      for (double v : p.probs) csv += fmt::format(",{}", v);
      csv += "," + csv_field(info.classes.at(static_cast<size_t>(p.y_hat))) + "\n";
    } else {
      csv += fmt::format(",{}", p.risk);
      for (double v : p.probs) csv += fmt::format(",{}", v);
      csv += fmt::format(",{}\n", p.y_hat);
    }
    std::string att = "x,y,attention\n";
    const std::vector<int64_t> xy = ops::to_vector<int64_t>(bag.coords);
    for (size_t i = 0; i < p.attention.size(); ++i)
      att += fmt::format("{},{},{}\n", xy[2 * i], xy[2 * i + 1], p.attention[i]);
    write_file_atomic((att_dir / (slide + ".csv")).string(), att);
    ++predicted;
  }
  write_file_atomic((fs::path(out_dir) / "predictions.csv").string(), csv);
  return dump({{"model", model_path},
               {"task", task_name(info.task)},
               {"slides", predicted},
               {"skipped", skipped},
               {"predictions", (fs::path(out_dir) / "predictions.csv").string()},
               {"attention", att_dir.string()}});
}

}  // namespace hipt::train
