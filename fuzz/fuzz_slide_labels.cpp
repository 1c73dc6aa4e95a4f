// libFuzzer target for the slide-level CSV readers (hipt/train/slide_data.h): the input bytes are
// written to a file and read as a subtyping labels CSV, as a survival labels CSV (which also
// computes the survival bins), and as a splits_K.csv against a fixed labels set.
//
// hipt::Error is the expected outcome for a bad file; anything else (a sanitizer report, another
// exception, a timeout) is a bug. Build with the fuzz configuration of tools/fuzz.sh
// (HIPT_BUILD_FUZZ=ON, clang), then run: build-fuzz/bin/fuzz_slide_labels CORPUS_DIR
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "hipt/train/slide_data.h"
#include "tensor/error.h"

namespace {

std::string temp_file(const char* name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir && *dir ? dir : "/tmp") + "/hipt_fuzz_" + name + "_" + std::to_string(::getpid()) + ".csv";
}

void write_file(const std::string& path, const uint8_t* data, size_t size) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || (size && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    std::perror(("fuzz_slide_labels: cannot write " + path).c_str());
    std::abort();
  }
}

// The labels the split files are read against: cases c0..c3, slides s0..s4.
const hipt::train::LabelSet& fixed_labels() {
  static const hipt::train::LabelSet labels = [] {
    const std::string path = temp_file("fixed_labels");
    const std::string text = "case_id,slide_id,label\nc0,s0,A\nc1,s1,B\nc1,s4,B\nc2,s2,A\nc3,s3,B\n";
    write_file(path, reinterpret_cast<const uint8_t*>(text.data()), text.size());
    hipt::train::LabelSet l = hipt::train::read_labels(path, hipt::train::SlideTask::kSubtype);
    std::remove(path.c_str());
    return l;
  }();
  return labels;
}

volatile size_t g_sink;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const hipt::train::LabelSet& fixed = fixed_labels();
  static const std::string path = temp_file("labels");
  write_file(path, data, size);
  size_t s = 0;
  for (auto task : {hipt::train::SlideTask::kSubtype, hipt::train::SlideTask::kSurvival}) {
    try {
      hipt::train::LabelSet l = hipt::train::read_labels(path, task);
      for (const auto& c : l.cases) s += c.slides.size() + static_cast<size_t>(c.label);
      s += l.bin_edges.size() + l.classes.size();
      if (l.cases.size() >= 2) s += hipt::train::kfold_splits(l, 2, 1).size();
    } catch (const hipt::Error&) {
    }
  }
  try {
    const hipt::train::Split split = hipt::train::read_split_csv(path, fixed);
    s += split.train.size() + split.val.size() + split.test.size();
  } catch (const hipt::Error&) {
  }
  g_sink = s;
  return 0;
}
