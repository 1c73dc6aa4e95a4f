// PLACEHOLDER (implemented on the infra branch): the CSV path only.
#include "io/coords.h"

#include <fstream>
#include <sstream>

#include "tensor/error.h"

namespace hipt::io {

RegionCoords read_region_coords(const std::string& path) {
  std::ifstream f(path);
  HIPT_CHECK(f.good(), "{}: cannot open coordinates file", path);
  RegionCoords r;
  std::string line;
  std::getline(f, line);
  HIPT_CHECK(line == "x,y", "{}: the first line must be 'x,y'", path);
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    Point p;
    char comma = 0;
    std::istringstream s(line);
    HIPT_CHECK(static_cast<bool>(s >> p.x >> comma >> p.y) && comma == ',', "{}: bad line '{}'", path, line);
    r.coords.push_back(p);
  }
  return r;
}

}  // namespace hipt::io
