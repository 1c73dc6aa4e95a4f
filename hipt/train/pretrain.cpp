#include "hipt/train/pretrain.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <sstream>

#include "hipt/pipeline/progress.h"
#include "hipt/train/checkpoint.h"
#include "hipt/train/dino.h"
#include "hipt/train/dino_data.h"
#include "io/safetensors.h"
#include "tensor/error.h"

namespace hipt::train {
namespace fs = std::filesystem;

namespace {

std::string number(double v) { return fmt::format("{}", v); }  // shortest round-trip form

// The keys of run_config that a resumed run may change.
bool may_change(const std::string& key) {
  return key == "epochs" || key == "max_steps" || key == "workers" || key == "save_every" || key == "keep_every";
}

// student, teacher and the loss's center as one module, for the training-state file.
class DinoState : public nn::Module {
 public:
  DinoState(std::shared_ptr<DinoModel> student, std::shared_ptr<DinoModel> teacher, std::shared_ptr<DinoLoss> loss) {
    register_module("student", std::move(student));
    register_module("teacher", std::move(teacher));
    register_module("loss", std::move(loss));
  }
};

struct Arch {
  VitConfig vit;
  DinoHeadConfig head;
};

Arch arch_of(const PretrainOptions& o) {
  Arch a;
  if (o.arch == "vit4k_xs") {
    a.vit = vit4k_xs_config();
  } else if (o.arch == "tiny") {
    a.vit.embed_dim = 32;
    a.vit.depth = 2;
    a.vit.heads = 2;
    a.vit.in_chans = RegionGrids::kChannels;
    a.head.hidden_dim = 32;
    a.head.bottleneck_dim = 16;
  } else {
    throw Error(fmt::format("pretrain: --arch {} is not one of vit4k_xs, tiny", o.arch));
  }
  a.vit.seed = o.seed;
  a.head.in_dim = a.vit.embed_dim;
  a.head.out_dim = o.out_dim;
  return a;
}

std::shared_ptr<DinoModel> make_model(const Arch& a, double drop_path, Generator& head_gen) {
  VitConfig c = a.vit;
  c.drop_path = drop_path;
  return std::make_shared<DinoModel>(std::make_shared<VisionTransformer4K>(c),
                                     std::make_shared<DinoHead>(a.head, head_gen));
}

// Keeps the log lines of steps up to `step` (those after it belong to steps a resumed run redoes).
void truncate_log(const std::string& path, int64_t step) {
  std::ifstream in(path);
  if (!in) return;
  std::string line, kept;
  while (std::getline(in, line)) {
    const std::string head = "{\"step\":";
    if (line.compare(0, head.size(), head) != 0) continue;
    if (std::strtoll(line.c_str() + head.size(), nullptr, 10) <= step) kept += line + "\n";
  }
  in.close();
  std::ofstream(path, std::ios::trunc) << kept;
}

void say(const PretrainOptions& o, const std::string& line) {
  if (o.message) o.message(line);
}

}  // namespace

std::map<std::string, std::string> run_config(const PretrainOptions& o, const std::vector<std::string>& files) {
  std::string inputs;
  for (const std::string& f : files)
    inputs += (inputs.empty() ? "" : "\n") + fs::weakly_canonical(fs::absolute(f)).string();
  return {{"stage", "vit4k"},
          {"arch", o.arch},
          {"inputs", inputs},
          {"out_dim", std::to_string(o.out_dim)},
          {"seed", std::to_string(o.seed)},
          {"batch", std::to_string(o.batch)},
          {"accum", std::to_string(o.accum)},
          {"local_crops", std::to_string(o.local_crops)},
          {"normalisation", "none"},
          {"lr", number(o.lr)},
          {"min_lr", number(o.min_lr)},
          {"warmup_epochs", std::to_string(o.warmup_epochs)},
          {"weight_decay", number(o.weight_decay)},
          {"weight_decay_end", number(o.weight_decay_end)},
          {"momentum_teacher", number(o.momentum_teacher)},
          {"teacher_temp", number(o.teacher_temp)},
          {"warmup_teacher_temp", number(o.warmup_teacher_temp)},
          {"warmup_teacher_temp_epochs", std::to_string(o.warmup_teacher_temp_epochs)},
          {"drop_path", number(o.drop_path)},
          {"clip_grad", number(o.clip_grad)},
          {"freeze_last_layer", std::to_string(o.freeze_last_layer)},
          {"epochs", std::to_string(o.epochs)},
          {"max_steps", std::to_string(o.max_steps)},
          {"workers", std::to_string(o.workers)},
          {"save_every", std::to_string(o.save_every)},
          {"keep_every", std::to_string(o.keep_every)}};
}

std::string flag_of(const std::string& key) {
  if (key == "stage") return "the stage (vit256 / vit4k)";
  if (key == "inputs") return "the input feature files";
  if (key == "normalisation") return "the normalisation";
  std::string f = "--" + key;
  for (char& c : f)
    if (c == '_') c = '-';
  return f;
}

PretrainResult run_pretraining(const PretrainOptions& o) {
  HIPT_CHECK(o.batch >= 1 && o.accum >= 1 && o.epochs >= 1 && o.out_dim >= 1 && o.local_crops >= 0,
             "pretrain: --batch, --accum, --epochs and --out-dim must be at least 1, --local-crops at least 0");
  HIPT_CHECK(o.warmup_epochs <= o.epochs, "pretrain: --warmup-epochs {} exceeds --epochs {}", o.warmup_epochs,
             o.epochs);
  const Arch arch = arch_of(o);
  RegionGrids data(o.inputs, [&](const std::string& w) { say(o, "warning: " + w); });
  const int64_t steps_per_epoch = data.size() / (o.batch * o.accum);
  HIPT_CHECK(steps_per_epoch >= 1, "pretrain: {} regions in {} file(s) do not fill one batch of {}", data.size(),
             data.files().size(), o.batch * o.accum);
  const std::map<std::string, std::string> config = run_config(o, data.files());

  std::error_code ec;
  fs::create_directories(o.out_dir, ec);
  HIPT_CHECK(fs::is_directory(o.out_dir), "--out {}: cannot create the folder{}", o.out_dir,
             ec ? " (" + ec.message() + ")" : "");
  const fs::path dir(o.out_dir);
  const std::string latest = (dir / "checkpoint.safetensors").string();
  const std::string log_path = (dir / "log.jsonl").string();

  Generator head_gen(o.seed + 7);
  auto student = make_model(arch, o.drop_path, head_gen);
  auto teacher = make_model(arch, 0.0, head_gen);
  teacher->load_state_dict(student->state_dict());
  DinoLossOptions lo;
  lo.warmup_teacher_temp = o.warmup_teacher_temp;
  lo.teacher_temp = o.teacher_temp;
  lo.warmup_teacher_temp_epochs = o.warmup_teacher_temp_epochs;
  GridCropOptions crops;
  crops.local_crops = o.local_crops;
  auto loss = std::make_shared<DinoLoss>(o.out_dim, crops.crops(), lo);
  DinoOptions dopt;
  dopt.epochs = o.epochs;
  dopt.lr = o.lr * static_cast<double>(o.batch * o.accum) / 256.0;
  dopt.min_lr = o.min_lr;
  dopt.warmup_epochs = o.warmup_epochs;
  dopt.weight_decay = o.weight_decay;
  dopt.weight_decay_end = o.weight_decay_end;
  dopt.momentum_teacher = o.momentum_teacher;
  dopt.clip_grad = o.clip_grad;
  dopt.freeze_last_layer = o.freeze_last_layer;
  dopt.loss = lo;
  DinoTraining training(*student, *teacher, *loss, dopt, steps_per_epoch);
  DinoState state(student, teacher, loss);
  Generator& stream = student->dropout_generator();

  PretrainResult result;
  result.steps_per_epoch = steps_per_epoch;
  if (fs::exists(latest) && !o.overwrite) {
    const std::map<std::string, std::string> saved = io::read_safetensors_metadata(latest);
    for (const auto& [key, value] : config) {
      if (may_change(key)) continue;
      auto it = saved.find("run." + key);
      const std::string was = it == saved.end() ? "(absent)" : it->second;
      if (was == value) continue;
      const std::string what =
          key == "inputs" ? flag_of(key) : fmt::format("{} ({} there, {} now)", flag_of(key), was, value);
      throw Error(fmt::format(
          "pretrain: {} holds a run with other {}; rerun with the same settings, or --overwrite to start over",
          latest, what));
    }
    result.start_step = load_training_state(latest, state, training.optimizer(), stream).step;
    say(o, fmt::format("resuming from {} at step {} (epoch {})", latest, result.start_step,
                       result.start_step / steps_per_epoch));
    truncate_log(log_path, result.start_step);
  } else {
    if (o.overwrite) {
      fs::remove(log_path, ec);
      std::vector<fs::path> old;
      for (const auto& e : fs::directory_iterator(dir, ec))
        if (e.path().filename().string().rfind("checkpoint", 0) == 0) old.push_back(e.path());
      for (const fs::path& p : old) fs::remove(p, ec);
    }
    std::ofstream(log_path, std::ios::trunc);
  }

  const int64_t total = training.total_iters();
  const int64_t end = o.max_steps > 0 ? std::min(total, o.max_steps) : total;
  result.end_step = std::max(end, result.start_step);

  auto save = [&](int64_t step) {
    const Progress progress{step, step / steps_per_epoch};
    save_training_state(latest, state, training.optimizer(), stream, progress, config);
    const int64_t epochs_done = step / steps_per_epoch;
    if (o.keep_every > 0 && step % steps_per_epoch == 0 && epochs_done % o.keep_every == 0)
      save_training_state((dir / fmt::format("checkpoint{:04}.safetensors", epochs_done)).string(), state,
                          training.optimizer(), stream, progress, config);
    io::write_safetensors((dir / "teacher_backbone.safetensors").string(), teacher->backbone->state_dict(),
                          {{"format", "hipt-dino-teacher-backbone"}, {"arch", o.arch}, {"step", std::to_string(step)}});
  };

  // The step's batch · accum samples of the epoch's order, in accum parts of batch samples.
  auto batch_of = [&](int64_t it) {
    const int64_t epoch = it / steps_per_epoch, within = it % steps_per_epoch;
    const std::vector<int64_t> order = epoch_order(data.size(), o.seed, epoch);
    std::vector<std::vector<Tensor>> parts;
    for (int64_t a = 0; a < o.accum; ++a) {
      const auto first = order.begin() + (within * o.accum + a) * o.batch;
      parts.push_back(grid_batch(data, std::vector<int64_t>(first, first + o.batch), crops, o.seed, epoch));
    }
    return parts;
  };

  std::ofstream log(log_path, std::ios::app);
  // "pretrain done/total rate step/s ETA" and the step's figures, rate-limited (hipt::Progress)
  std::unique_ptr<hipt::Progress> progress;
  if (o.message && result.start_step < end)
    progress = std::make_unique<hipt::Progress>("pretrain", end - result.start_step, "step");
  const auto t0 = std::chrono::steady_clock::now();
  std::future<std::vector<std::vector<Tensor>>> next;
  if (o.workers > 0 && result.start_step < end) next = std::async(std::launch::async, batch_of, result.start_step);
  for (int64_t it = result.start_step; it < end; ++it) {
    std::vector<std::vector<Tensor>> batch = next.valid() ? next.get() : batch_of(it);
    if (o.workers > 0 && it + 1 < end) next = std::async(std::launch::async, batch_of, it + 1);
    const DinoStepStats s = training.step(batch, it);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const int64_t done = it + 1 - result.start_step;
    const double img_per_s = seconds > 0 ? static_cast<double>(done * o.batch * o.accum) / seconds : 0.0;
    log << fmt::format(
        "{{\"step\":{},\"epoch\":{},\"loss\":{},\"lr\":{},\"weight_decay\":{},\"momentum\":{},\"teacher_temp\":{},"
        "\"img_per_s\":{:.3f},\"seconds\":{:.3f}}}\n",
        it + 1, it / steps_per_epoch, number(s.loss), number(s.lr), number(s.weight_decay), number(s.momentum),
        number(s.teacher_temp), img_per_s, seconds);
    log.flush();
    if (progress)
      progress->update(done, fmt::format("(step {}/{}, epoch {}) loss {:.4f} lr {:.3g} momentum {:.5f} {:.1f} img/s",
                                         it + 1, end, it / steps_per_epoch, s.loss, s.lr, s.momentum, img_per_s));
    const bool epoch_end = (it + 1) % steps_per_epoch == 0;
    const bool periodic = o.save_every > 0 && (it + 1) % o.save_every == 0;
    if (epoch_end || periodic || it + 1 == end) save(it + 1);
  }
  if (result.start_step >= end)
    say(o, fmt::format("nothing to do: the run is at step {} of {}", result.start_step, end));
  return result;
}

}  // namespace hipt::train
