// `hipt demo`: until the whole-slide demo exists, it trains the two-spirals MLP, says so, and
// writes its loss curve to hipt-demo/spirals.json.
#include <fmt/core.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <string>
#include <vector>

#include "hipt/commands.h"
#include "io/atomic_file.h"
#include "hipt/progress.h"
#include "hipt/spirals.h"

namespace hipt {

int run_demo(const DemoOptions& opts) {
  fmt::print("hipt demo: the whole-slide demo is not built yet; this demo trains a 2-64-64-2 MLP on two\n"
             "spirals (400 points) with AdamW, to show the engine and its autograd working end to end.\n");
  Progress progress("training", opts.steps, "steps");
  SpiralsReport r = train_spirals(opts.steps, opts.seed, [&](int step, int, double loss) {
    progress.update(step, fmt::format("loss {:.4f}", loss));
  });
  progress.finish(fmt::format("loss {:.4f}", r.loss.back()));
  std::vector<std::string> loss;  // JSON has no NaN: a diverged step is written as null
  for (double l : r.loss) loss.push_back(std::isfinite(l) ? fmt::format("{:.6g}", l) : "null");
  const std::string out = "hipt-demo/spirals.json";
  write_file_atomic(out, fmt::format("{{\"task\": \"two spirals\", \"steps\": {}, \"seed\": {}, \"accuracy\": {:.6f}, "
                                     "\"seconds\": {:.3f}, \"loss\": [{}]}}\n",
                                     opts.steps, opts.seed, r.accuracy, r.seconds, fmt::join(loss, ", ")));
  fmt::print("final loss {:.4f}, training accuracy {:.1f}% after {} steps in {:.1f} s\n", r.loss.back(),
             100 * r.accuracy, opts.steps, r.seconds);
  fmt::print("wrote {} (loss per step, accuracy)\n", out);
  return 0;
}

}  // namespace hipt
