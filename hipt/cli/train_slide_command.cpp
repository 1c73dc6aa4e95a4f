// hipt train-slide and hipt predict-slide: cross-validated HIPT_LGP_FC training on `hipt embed`
// outputs, and its predictions with the attention over each slide's regions
// (hipt/train/cross_validation.h). One JSON summary on stdout, progress and warnings on stderr.
#include <fmt/format.h>

#include <memory>

#include "hipt/cli/commands.h"
#include "hipt/train/cross_validation.h"
#include "tensor/parallel.h"

namespace hipt {
namespace {

struct TrainSlideFlags {
  std::string task, device = "cpu";
  int threads = 0;
  std::optional<int64_t> folds;
  train::CrossValOptions cv;
};

void print_warning(const std::string& w) { fmt::print(stderr, "warning: {}\n", w); }

int run_train_slide(TrainSlideFlags& f) {
  f.cv.train.task = train::parse_slide_task(f.task);
  f.cv.device = check_device_flag(f.device);
  if (f.threads > 0) set_num_threads(f.threads);
  HIPT_CHECK(!(f.folds && !f.cv.splits_dir.empty()), "--folds and --splits exclude each other");
  f.cv.folds = f.folds.value_or(f.cv.train.task == train::SlideTask::kSubtype ? 10 : 5);
  fmt::print("{}\n", train::run_cross_validation(f.cv, print_warning));
  return 0;
}

struct PredictSlideFlags {
  std::string model, features, out, device = "cpu";
  int threads = 0;
};

}  // namespace

Command add_train_slide_command(CLI::App& app) {
  auto f = std::make_shared<TrainSlideFlags>();
  train::CrossValOptions& o = f->cv;
  CLI::App* cmd = app.add_subcommand(
      "train-slide", "Cross-validated HIPT_LGP_FC training (subtyping or survival) on hipt embed outputs");
  cmd->add_option("--task", f->task, "subtype (cross-entropy, AUC) or survival (NLL, c-index)")
      ->required()
      ->check(CLI::IsMember({"subtype", "survival"}));
  cmd->add_option("--features", o.features_dir, "Folder of hipt embed outputs, <slide_id>.safetensors")->required();
  cmd->add_option("--labels", o.labels_csv,
                  "Labels CSV: case_id,slide_id,label (subtype) or case_id,slide_id,survival_months,censorship")
      ->required();
  cmd->add_option("--vit4k", o.vit4k, "The pretrained ViT-4K the features were made with (.pth or .safetensors)")
      ->required();
  cmd->add_option("--out", o.out_dir,
                  "Output folder: fold_<k>/{model.safetensors,metrics.json,predictions.csv}, "
                  "summary.json")
      ->required();
  add_bounded_option<int64_t>(cmd, "--folds", f->folds,
                              "Seeded stratified folds by case (default 10 subtype, 5 survival)", 2);
  cmd->add_option("--splits", o.splits_dir, "Folder of CLAM / HIPT splits_K.csv (train,val,test) instead of --folds");
  cmd->add_option("--classes", o.classes, "Subtype class names in output order (default: the sorted labels)")
      ->delimiter(',');
  add_checked_number<double>(cmd, "--label-frac", o.label_frac, "Fraction of each training split used", "(0 - 1]",
                             [](double v) -> std::string { return v > 0 && v <= 1 ? "" : "must be in (0, 1]"; })
      ->capture_default_str();
  add_bounded_option<int64_t>(cmd, "--epochs", o.train.epochs, "Epochs", 1)->capture_default_str();
  add_positive_real_option(cmd, "--lr", o.train.lr, "Adam learning rate")->capture_default_str();
  add_bounded_option<double>(cmd, "--weight-decay", o.train.weight_decay, "Adam L2 weight decay (coupled)", 0.0)
      ->capture_default_str();
  add_bounded_option<double>(cmd, "--alpha", o.train.alpha, "Survival loss: weight of the uncensored term", 0.0, 1.0)
      ->capture_default_str();
  add_bounded_option<int64_t>(cmd, "--gc", o.train.gc,
                              "Loss divided by gc; survival steps every gc bags (subtyping every bag)", 1)
      ->capture_default_str();
  add_bounded_option<double>(cmd, "--dropout", o.train.dropout, "Dropout of the global path", 0.0, 0.99)
      ->capture_default_str();
  cmd->add_flag("--finetune-vit4k", o.train.finetune_vit4k, "Train the ViT-4K too, from patch_features");
  cmd->add_flag("--early-stopping", o.train.early_stopping,
                "Keep the epoch with the lowest validation loss; stop after --patience epochs without a better one");
  add_bounded_option<int64_t>(cmd, "--patience", o.train.patience, "Early stopping patience in epochs", 1)
      ->capture_default_str();
  add_bounded_option<uint64_t>(cmd, "--seed", o.train.seed, "Seed of the folds, sampling and initialisation", 0)
      ->capture_default_str();
  cmd->add_option("--device", f->device, "cpu, cuda or cuda:N")->capture_default_str();
  add_bounded_option<int>(cmd, "--threads", f->threads, "Compute threads (default: HIPT_NUM_THREADS or all)", 0,
                          kMaxThreads);
  cmd->add_flag("--overwrite", o.overwrite, "Redo finished folds (default: keep them and resume)");
  return {cmd, [f] { return run_train_slide(*f); }};
}

Command add_predict_slide_command(CLI::App& app) {
  auto f = std::make_shared<PredictSlideFlags>();
  CLI::App* cmd = app.add_subcommand(
      "predict-slide", "A train-slide model on feature files: DIR/predictions.csv and DIR/attention/<slide>.csv");
  cmd->add_option("--model", f->model, "A train-slide model (fold_<k>/model.safetensors)")->required();
  cmd->add_option("--features", f->features, "A hipt embed output, or a folder of them")->required();
  cmd->add_option("--out", f->out, "Output folder")->required();
  cmd->add_option("--device", f->device, "cpu, cuda or cuda:N")->capture_default_str();
  add_bounded_option<int>(cmd, "--threads", f->threads, "Compute threads (default: HIPT_NUM_THREADS or all)", 0,
                          kMaxThreads);
  return {cmd, [f] {
            const Device device = check_device_flag(f->device);
            if (f->threads > 0) set_num_threads(f->threads);
            fmt::print("{}\n", train::run_predict_slide(f->model, f->features, f->out, device, print_warning));
            return 0;
          }};
}

}  // namespace hipt
