#include "io/slide.h"

#include "tensor/error.h"

namespace hipt::io {
class SlideImpl {};
Slide::Slide(std::unique_ptr<SlideImpl> impl) : impl_(std::move(impl)) {}
Slide::~Slide() = default;
std::unique_ptr<Slide> Slide::open(const std::string& path, const SlideOptions&) {
  throw Error(path + ": slide reading is not implemented yet");
}
}  // namespace hipt::io
