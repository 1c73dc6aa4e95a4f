// CLAM preset CSVs onto TilingOptions. CLAM reads them with pandas (header row, first value row);
// this reader takes the same files unchanged, plus '#' comment lines in ours.
#include "hipt/pipeline/presets.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <set>
#include <vector>

#include "tensor/error.h"

namespace hipt {
namespace {

// One CSV line into fields; double quotes group a field with commas ("1,2"), as pandas reads them.
std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == '"') {
      if (quoted && i + 1 < line.size() && line[i + 1] == '"') fields.back() += line[++i];  // "" inside quotes
      else quoted = !quoted;
    } else if (c == ',' && !quoted) {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  for (std::string& f : fields) {  // spaces around a cell are dropped
    size_t a = f.find_first_not_of(" \t"), b = f.find_last_not_of(" \t");
    f = a == std::string::npos ? "" : f.substr(a, b - a + 1);
  }
  return fields;
}

struct Cell {
  const std::string& path;
  const std::string& column;
  const std::string& text;

  int integer(int lo, int hi) const {
    int v = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    HIPT_CHECK(ec == std::errc() && ptr == text.data() + text.size() && !text.empty(),
               "{}: column '{}': '{}' is not an integer", path, column, text);
    HIPT_CHECK(v >= lo && v <= hi, "{}: column '{}': {} is outside [{}, {}]", path, column, v, lo, hi);
    return v;
  }
  double number(double lo) const {
    double v = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    HIPT_CHECK(ec == std::errc() && ptr == text.data() + text.size() && !text.empty() && std::isfinite(v),
               "{}: column '{}': '{}' is not a number", path, column, text);
    HIPT_CHECK(v >= lo, "{}: column '{}': {} is below {}", path, column, v, lo);
    return v;
  }
  // pandas' spellings of a boolean column; CLAM's own presets write TRUE/FALSE.
  bool boolean() const {
    if (text == "True" || text == "TRUE" || text == "true") return true;
    if (text == "False" || text == "FALSE" || text == "false") return false;
    throw Error(fmt::format("{}: column '{}': '{}' is not True or False", path, column, text));
  }
};

void apply_column(const Cell& c, TilingOptions& t) {
  const std::string& name = c.column;
  constexpr int kBig = 1 << 30;
  if (name == "seg_level") t.seg_level = c.integer(-1, 64);
  else if (name == "sthresh") t.sthresh = c.integer(0, 255);
  else if (name == "mthresh") t.mthresh = c.integer(1, kBig);
  else if (name == "close") t.close = c.integer(0, kBig);
  else if (name == "use_otsu") t.otsu = c.boolean();
  else if (name == "a_t") t.a_t = c.number(0);
  else if (name == "a_h") t.a_h = c.number(0);
  else if (name == "max_n_holes") t.max_n_holes = c.integer(0, kBig);
  else if (name == "use_padding") t.no_padding = !c.boolean();
  else if (name == "contour_fn")
    HIPT_CHECK(c.text == "four_pt", "{}: column 'contour_fn': '{}' is not implemented (hipt implements CLAM's four_pt)",
               c.path, c.text);
  else if (name == "keep_ids" || name == "exclude_ids")
    HIPT_CHECK(c.text == "none", "{}: column '{}': '{}' is not implemented (hipt keeps every contour: 'none' only)",
               c.path, name, c.text);
  // Drawing options of CLAM's visualisation, and the white/black patch filters its fast patching
  // does not use: checked so a typo is caught, otherwise without effect here.
  else if (name == "vis_level") c.integer(-1, 64);
  else if (name == "line_thickness" || name == "white_thresh" || name == "black_thresh") c.integer(0, kBig);
  else throw Error(fmt::format("{}: unknown column '{}' (CLAM's preset columns are seg_level, sthresh, mthresh, close, "
                               "use_otsu, keep_ids, exclude_ids, a_t, a_h, max_n_holes, vis_level, line_thickness, "
                               "white_thresh, black_thresh, use_padding, contour_fn)",
                               c.path, name));
}

}  // namespace

void apply_clam_preset(const std::string& path, TilingOptions& tiling) {
  std::ifstream f(path, std::ios::binary);
  HIPT_CHECK(f.good(), "{}: cannot open preset file", path);
  std::vector<std::pair<int, std::string>> rows;  // (line number, text) of the non-comment lines
  std::string line;
  for (int number = 1; std::getline(f, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (number == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);  // spreadsheet programs add a BOM
    if (line.find_first_not_of(" \t") == std::string::npos || line[0] == '#') continue;
    rows.emplace_back(number, line);
  }
  HIPT_CHECK(rows.size() >= 2, "{}: a preset is a header row of names and one row of values, found {} row{}", path,
             rows.size(), rows.size() == 1 ? "" : "s");
  HIPT_CHECK(rows.size() == 2, "{}:{}: a preset has one row of values; this is another", path, rows[2].first);
  std::vector<std::string> names = split_csv_line(rows[0].second), values = split_csv_line(rows[1].second);
  HIPT_CHECK(names.size() == values.size(), "{}:{}: {} values for {} columns", path, rows[1].first, values.size(),
             names.size());

  // All columns are checked before any is applied: a bad preset leaves the options as they were.
  TilingOptions out = tiling;
  std::set<std::string> seen;
  for (size_t i = 0; i < names.size(); ++i) {
    HIPT_CHECK(!names[i].empty(), "{}: column {} has no name", path, i + 1);
    HIPT_CHECK(seen.insert(names[i]).second, "{}: column '{}' appears twice", path, names[i]);
    apply_column(Cell{path, names[i], values[i]}, out);
  }
  tiling = out;
}

}  // namespace hipt
