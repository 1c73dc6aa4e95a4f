// hipt pretrain: DINO self-distillation of HIPT's ViTs (hipt/train/pretrain.h). `vit4k` trains the
// ViT-4K on the region features of `hipt embed`; `vit256` (on image patches) is not built yet and
// says so after its flags are read.
#include <fmt/format.h>

#include <memory>

#include "hipt/cli/commands.h"
#include "hipt/train/pretrain.h"
#include "tensor/parallel.h"

namespace hipt {

namespace {

struct PretrainFlags {
  train::PretrainOptions train;
  std::string device = "cpu";
  int threads = 0;
};

// The flags both stages take, with DINO's defaults.
void add_pretrain_flags(CLI::App* cmd, PretrainFlags& f) {
  train::PretrainOptions& o = f.train;
  cmd->add_option("--out", o.out_dir, "Output folder: checkpoints, teacher_backbone.safetensors, log.jsonl")
      ->required();
  add_bounded_option<int64_t>(cmd, "--epochs", o.epochs, "Epochs of the schedules", 1);
  add_bounded_option<int64_t>(cmd, "--max-steps", o.max_steps, "Stop after this many steps in all (0: every epoch)", 0);
  add_bounded_option<int64_t>(cmd, "--batch", o.batch, "Samples per forward", 1);
  add_bounded_option<int64_t>(cmd, "--accum", o.accum, "Forwards per optimizer step (gradient accumulation)", 1);
  add_positive_real_option(cmd, "--lr", o.lr,
                           "Peak learning rate at 256 samples per step (scaled by batch·accum / 256)");
  add_bounded_option<double>(cmd, "--min-lr", o.min_lr, "Final learning rate of the cosine", 0.0);
  add_bounded_option<int64_t>(cmd, "--warmup-epochs", o.warmup_epochs, "Linear learning-rate warm-up", 0);
  add_bounded_option<double>(cmd, "--weight-decay", o.weight_decay, "Weight decay at the start (cosine)", 0.0);
  add_bounded_option<double>(cmd, "--weight-decay-end", o.weight_decay_end, "Weight decay at the end", 0.0);
  add_bounded_option<double>(cmd, "--momentum-teacher", o.momentum_teacher, "Teacher EMA momentum (cosine to 1)", 0.0,
                             1.0);
  add_positive_real_option(cmd, "--teacher-temp", o.teacher_temp, "Teacher temperature after the warm-up");
  add_positive_real_option(cmd, "--warmup-teacher-temp", o.warmup_teacher_temp, "Teacher temperature at the start");
  add_bounded_option<int64_t>(cmd, "--warmup-teacher-temp-epochs", o.warmup_teacher_temp_epochs,
                              "Epochs of the linear teacher-temperature warm-up", 0);
  add_bounded_option<int64_t>(cmd, "--out-dim", o.out_dim, "Output size of the DINO head", 1);
  add_bounded_option<int64_t>(cmd, "--local-crops", o.local_crops, "Local crops per sample", 0);
  add_bounded_option<double>(cmd, "--drop-path", o.drop_path, "Student stochastic depth (rises over the blocks)", 0.0,
                             1.0);
  add_bounded_option<double>(cmd, "--clip-grad", o.clip_grad, "Per-tensor gradient-norm clip (0: off)", 0.0);
  add_bounded_option<int64_t>(cmd, "--freeze-last-layer", o.freeze_last_layer,
                              "Epochs during which the head's last layer is not updated", 0);
  add_bounded_option<uint64_t>(cmd, "--seed", o.seed, "Seed of the weights, data order and crops", 0);
  cmd->add_option("--device", f.device, "cpu (the only device pretraining runs on so far)")->default_str("cpu");
  add_bounded_option<int>(cmd, "--threads", f.threads, "Compute threads (0: HIPT_NUM_THREADS or every core)", 0,
                          kMaxThreads);
  add_bounded_option<int64_t>(cmd, "--workers", o.workers, "Threads cutting the next batch while a step runs", 0, 64);
  add_bounded_option<int64_t>(cmd, "--save-every", o.save_every,
                              "Steps between checkpoints besides each epoch's end (0: epoch ends only)", 0);
  add_bounded_option<int64_t>(cmd, "--keep-every", o.keep_every, "Epochs between kept checkpoint<EEEE> files (0: none)",
                              0);
  cmd->add_flag("--overwrite", o.overwrite, "Start over even if DIR holds a checkpoint");
  // For tests and trials: a ViT-4K of embed 32, depth 2, heads 2 and a 32/16 head.
  cmd->add_option("--arch", o.arch, "vit4k_xs (default) or tiny (for tests)")->group("");
}

int run_pretrain(PretrainFlags& f, bool vit4k) {
  const Device device = check_device_flag(f.device);
  HIPT_CHECK(device.type == DeviceType::CPU, "pretrain: --device {}: pretraining runs on the CPU only so far",
             f.device);
  HIPT_CHECK(vit4k,
             "pretrain vit256: stage-1 pretraining on image patches is not built yet (hipt pretrain vit4k "
             "trains the ViT-4K on region features)");
  if (f.threads > 0) set_num_threads(f.threads);
  f.train.message = [](const std::string& line) { fmt::print(stderr, "{}\n", line); };
  const train::PretrainResult r = train::run_pretraining(f.train);
  fmt::print("{{\"out\":\"{}\",\"start_step\":{},\"end_step\":{},\"steps_per_epoch\":{}}}\n", f.train.out_dir,
             r.start_step, r.end_step, r.steps_per_epoch);
  return 0;
}

}  // namespace

Command add_pretrain_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("pretrain", "DINO pretraining of the ViT-4K on region features (vit4k)");
  cmd->require_subcommand(1);
  auto v4 = std::make_shared<PretrainFlags>(), v256 = std::make_shared<PretrainFlags>();
  CLI::App* c4 = cmd->add_subcommand("vit4k", "ViT-4K on `hipt embed` features (patch_features [M, 256, 384])");
  c4->add_option("features", v4->train.inputs, "Feature files (.safetensors) or folders of them")->required();
  add_pretrain_flags(c4, *v4);
  CLI::App* c256 = cmd->add_subcommand("vit256", "ViT-256 on 256² image patches (not built yet)");
  c256->add_option("inputs", v256->train.inputs, "Image folders")->required();
  add_pretrain_flags(c256, *v256);
  return {cmd, [c4, v4, v256] { return c4->parsed() ? run_pretrain(*v4, true) : run_pretrain(*v256, false); }};
}

}  // namespace hipt
