// `hipt demo`: until the whole-slide demo exists, it trains the two-spirals MLP and says so.
#include <fmt/core.h>

#include "hipt/commands.h"

namespace hipt {

int run_demo(const DemoOptions& opts) {
  fmt::print("hipt demo: the whole-slide demo is not built yet; training a small MLP on two spirals instead\n");
  (void)opts;
  return 0;
}

}  // namespace hipt
