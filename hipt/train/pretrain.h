// A DINO pretraining run of the ViT-4K on region features (stage 2 of HIPT): data from
// dino_data.h, the step of dino.h, checkpoints, log and resume. What `hipt pretrain vit4k` runs.
//
// Files in out_dir:
//   checkpoint.safetensors      the latest state (train/checkpoint.h layout): tensors
//                               "model.student.<backbone.|head.>...", "model.teacher.<...>",
//                               "model.loss.center", "optimizer.<...>"; metadata "step", "epoch",
//                               "generator.*" (the student's drop-path stream) and "run.<key>"
//                               (the run's configuration, see run_config)
//   checkpoint<EEEE>.safetensors  the same, kept at the end of every keep_every-th epoch
//   teacher_backbone.safetensors  the teacher's ViT-4K weights by their own names (what
//                               `hipt embed --vit4k` loads), written with every checkpoint
//   log.jsonl                   one JSON object per step: step, epoch, loss, lr, weight_decay,
//                               momentum, teacher_temp, img_per_s, seconds
// The data order and every crop are functions of (seed, epoch, sample index), and the drop-path
// stream is saved, so a resumed run continues bit for bit as an uninterrupted one would.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace hipt::train {

struct PretrainOptions {
  std::vector<std::string> inputs;  // feature files or folders (`hipt embed` outputs)
  std::string out_dir;
  std::string arch = "vit4k_xs";  // or "tiny" (embed 32, depth 2, heads 2, head 32/16: for tests)
  int64_t epochs = 100;
  int64_t max_steps = 0;  // stop after this many steps in all (0: the whole schedule)
  int64_t batch = 64;     // regions per forward
  int64_t accum = 1;      // forwards per optimizer step (gradient accumulation)
  double lr = 0.0005;     // scaled by batch · accum / 256, as DINO scales by its global batch
  double min_lr = 1e-6;
  int64_t warmup_epochs = 10;
  double weight_decay = 0.04, weight_decay_end = 0.4;
  double momentum_teacher = 0.996;
  double teacher_temp = 0.04, warmup_teacher_temp = 0.04;
  int64_t warmup_teacher_temp_epochs = 0;
  int64_t out_dim = 65536;
  int64_t local_crops = 8;
  double drop_path = 0.1;
  double clip_grad = 3.0;
  int64_t freeze_last_layer = 1;
  uint64_t seed = 0;
  int64_t workers = 0;      // threads preparing the next batch while a step runs (0: none)
  int64_t save_every = 0;   // steps between checkpoints besides each epoch's end (0: epoch ends only)
  int64_t keep_every = 20;  // epochs between kept checkpoint<EEEE> files (0: none)
  bool overwrite = false;   // start over even if out_dir holds a checkpoint
  // Notices (resuming, skipped files) as lines; when set, progress is also drawn on stderr.
  std::function<void(const std::string&)> message;
};

// The run-defining settings as strings ("run.<key>" in the checkpoint): a resumed run must match
// each of them (epochs, max_steps, workers, save_every, keep_every and threads may change).
// `files` are the feature files read, in order (recorded as absolute paths, so a rerun from
// another working directory matches).
std::map<std::string, std::string> run_config(const PretrainOptions& options, const std::vector<std::string>& files);

// The flag that sets each key of run_config ("batch" -> "--batch").
std::string flag_of(const std::string& key);

struct PretrainResult {
  int64_t start_step = 0;  // the step resumed from (0 for a fresh run)
  int64_t end_step = 0;    // steps done in all
  int64_t steps_per_epoch = 0;
};

// Runs (or resumes) the training; throws hipt::Error for bad inputs, a checkpoint of another
// configuration (naming the differing flag) or a non-finite loss.
PretrainResult run_pretraining(const PretrainOptions& options);

}  // namespace hipt::train
