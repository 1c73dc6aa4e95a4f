// Region coordinates made elsewhere, for `hipt embed --coords`: our CSV (`hipt tiles`) or CLAM's
// patching output (`patches/<slide>.h5`, dataset `coords`, read with libhdf5).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "io/raster.h"

namespace hipt::io {

struct RegionCoords {
  std::vector<Point> coords;                      // level-0 top-left corners, file order
  std::map<std::string, std::string> attributes;  // CLAM's attributes of `coords` (patch_size, patch_level, ...) as text
};

// `.csv`: a header line `x,y`, then one `x,y` line of integers per region. `.h5`/`.hdf5`: the
// dataset `coords`, integers [M, 2] (x, y), with its scalar attributes (numbers, 1-D number arrays
// as "[a, b]", strings; other kinds are left out). M = 0 is an empty list. Throws hipt::Error naming
// the file and what is wrong (missing file, bad header, a bad line with its number, no `coords`
// dataset, wrong shape or type).
RegionCoords read_region_coords(const std::string& path);

// Writes `coords` as the CSV above (header `x,y`, one line per region), atomically: what `hipt
// tiles` and `hipt demo` write. Throws hipt::Error naming the path.
void write_region_coords_csv(const std::string& path, const std::vector<Point>& coords);

}  // namespace hipt::io
