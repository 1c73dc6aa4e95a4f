// The slide's property map under OpenSlide's names and formats. Internal to io/.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "io/slide.h"
#include "io/tiff_file.h"

namespace hipt::io {

// g_ascii_dtostr's form, which OpenSlide uses for every double property: "%.17g" in the C locale
// (so 2.0 -> "2", 4.016129032258064 -> "4.0161290322580641").
std::string format_double(double d);

struct AssociatedInfo {
  std::string name;
  int64_t width, height;
  size_t icc_size;
};

// vendor: "aperio" | "generic-tiff"; hash_dir: the smallest level's directory (quickhash-1).
std::map<std::string, std::string> slide_properties(const TiffFile& file, const std::string& vendor,
                                                    const std::vector<SlideLevel>& levels, int hash_dir,
                                                    const std::vector<AssociatedInfo>& associated);

}  // namespace hipt::io
