// hipt read-region: a region of a slide as an RGBA PNG.
#include "hipt/cli/commands.h"
#include "io/png.h"
#include "io/slide.h"

namespace hipt {

int run_read_region(const ReadRegionOptions& opts) {
  auto slide = io::Slide::open(opts.slide);
  io::write_png(opts.out, slide->read_region(opts.x, opts.y, opts.level, opts.width, opts.height));
  return 0;
}

}  // namespace hipt
