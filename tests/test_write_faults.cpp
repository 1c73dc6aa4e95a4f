// Write failures lose nothing. A full disk (ENOSPC), a file-size limit (EFBIG) and an I/O error
// (EIO) are made on demand: HIPT_FAULT_WRITE=CODE:N fails the N-th file a process writes
// (io/atomic_file.h), and RLIMIT_FSIZE with SIGXFSZ ignored makes the kernel refuse a large write
// with EFBIG. Under each, a command says so in one `error:` line naming the file, leaves nothing
// under a final name that is not complete, leaves no temporary file, and a rerun succeeds; `hipt
// embed` keeps the slides finished before the failure and resumes the one it was writing.
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "embed_testing.h"
#include "io/atomic_file.h"
#include "io/png.h"

namespace hipt {
namespace {
namespace fs = std::filesystem;
using testing::CliRun;

// Every regular file under `dir`, relative, sorted.
std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(fs::relative(e.path(), dir).string());
  std::sort(out.begin(), out.end());
  return out;
}

// One line, starting "error: ", naming `file` and saying `why`.
void expect_one_error_line(const CliRun& r, const std::string& file, const std::string& why, const std::string& what) {
  EXPECT_NE(r.code, 0) << what;
  const auto lines = std::count(r.err.begin(), r.err.end(), '\n');
  const auto at = r.err.find("error: ");
  ASSERT_NE(at, std::string::npos) << what << ": " << r.err;
  const std::string line = r.err.substr(at, r.err.find('\n', at) - at);
  EXPECT_EQ(r.err.find("error: ", at + 1), std::string::npos) << what << ": more than one error line: " << r.err;
  EXPECT_NE(line.find(file), std::string::npos) << what << ": " << line;
  EXPECT_NE(line.find(why), std::string::npos) << what << ": " << line;
  EXPECT_GE(lines, 1) << what;
}

TEST(WriteFaults, TheSeamFailsOnlyTheNamedWriteAndRefusesABadValue) {
  const std::string dir = testing::fresh_dir("write_faults_seam");
  // read-region's PNG is the process's first write: ENOSPC:1 fails it, ENOSPC:2 does not.
  const std::string slide = dir + "/s.svs";
  testing::write_slide(slide, testing::small_image(), 20);
  const std::string png = dir + "/r.png";
  CliRun bad = testing::run_hipt("read-region " + slide + " --level 0 --x 0 --y 0 --width 64 --height 64 --out " + png,
                                 "HIPT_FAULT_WRITE=ENOSPC:1 ");
  expect_one_error_line(bad, png, "No space left on device", "ENOSPC:1");
  EXPECT_FALSE(testing::path_exists(png));
  EXPECT_EQ(files_in(dir), std::vector<std::string>({"s.svs"}));
  CliRun ok = testing::run_hipt("read-region " + slide + " --level 0 --x 0 --y 0 --width 64 --height 64 --out " + png,
                                "HIPT_FAULT_WRITE=ENOSPC:2 ");
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_TRUE(testing::path_exists(png));
  for (const char* v : {"ENOSPC", "ENOSPC:0", "EPERM:1", "EIO:x", "EIO:1x"}) {
    CliRun r = testing::run_hipt("read-region " + slide + " --level 0 --x 0 --y 0 --width 64 --height 64 --out " + png,
                                 std::string("HIPT_FAULT_WRITE=") + v + " ");
    expect_one_error_line(r, "HIPT_FAULT_WRITE", "expected ENOSPC:N", v);
  }
}

// Each one-file command, under each failure: no output under the final name, no temporary file,
// and a rerun without the fault writes it.
TEST(WriteFaults, OneFileCommandsLeaveNoOutputAndARerunSucceeds) {
  const std::string dir = testing::fresh_dir("write_faults_commands");
  const std::string slide = dir + "/s.svs";
  testing::write_slide(slide, testing::small_image(), 20);
  const std::string weights = dir + "/w.safetensors";
  {
    auto [vit256, vit4k] = testing::fixture_models();
    io::write_safetensors(weights, vit4k->state_dict());
  }
  struct Case {
    std::string args, output;
    bool large;  // over the 1 KiB file-size limit below
  };
  const std::vector<Case> cases = {
      {"read-region " + slide + " --level 0 --x 0 --y 0 --width 300 --height 200 --out " + dir + "/out/r.png", dir + "/out/r.png", true},
      {"tiles " + slide + " --size 256 --a-t 0.05 --out " + dir + "/out/t.csv", dir + "/out/t.csv", false},
      {"convert-checkpoint " + weights + " " + dir + "/out/c.safetensors", dir + "/out/c.safetensors", true},
  };
  // EFBIG from the kernel: a 1 KiB file-size limit (ulimit -f counts 512-byte blocks) with SIGXFSZ
  // ignored, so that write() fails instead of killing the process.
  const std::vector<std::pair<std::string, std::string>> faults = {
      {"HIPT_FAULT_WRITE=ENOSPC:1 ", "No space left on device"},
      {"HIPT_FAULT_WRITE=EIO:1 ", "Input/output error"},
      {"HIPT_FAULT_WRITE=EFBIG:1 ", "File too large"},
      {"trap '' XFSZ; ulimit -f 2; ", "File too large"},
  };
  for (const Case& c : cases) {
    for (const auto& [prefix, why] : faults) {
      if (!c.large && prefix.find("ulimit") != std::string::npos) continue;
      fs::remove_all(dir + "/out");
      CliRun r = testing::run_hipt(c.args, prefix);
      expect_one_error_line(r, c.output, why, prefix + c.args);
      EXPECT_FALSE(testing::path_exists(c.output)) << prefix << c.args;
      if (fs::exists(dir + "/out"))
        for (const std::string& f : files_in(dir + "/out")) ADD_FAILURE() << prefix << c.args << " left " << f;
    }
    CliRun again = testing::run_hipt(c.args);
    EXPECT_EQ(again.code, 0) << c.args << ": " << again.err;
    ASSERT_TRUE(testing::path_exists(c.output)) << c.args;
    if (c.large) {
      EXPECT_GT(fs::file_size(c.output), 1024u) << c.args;
    }
  }
}

// `hipt heatmap` writes 14 files, each atomically: a failure at the first, a middle or the last
// write leaves only complete files, and a rerun writes them all.
TEST(WriteFaults, HeatmapLeavesOnlyCompleteFilesAndARerunSucceeds) {
  const std::string dir = testing::fresh_dir("write_faults_heatmap");
  const std::string slide = dir + "/h.svs";
  testing::write_slide(slide, testing::small_image(), 20);
  const std::string args = "heatmap " + slide + testing::model_flags() + " --x 0 --y 0 --size 512 --scale 8 --out ";
  for (int n : {1, 8, 14}) {
    const std::string out = dir + "/out" + std::to_string(n);
    CliRun r = testing::run_hipt(args + out, "HIPT_FAULT_WRITE=ENOSPC:" + std::to_string(n) + " ");
    expect_one_error_line(r, out + "/h_x0_y0", "No space left on device", "write " + std::to_string(n));
    EXPECT_TRUE(r.out.empty()) << r.out;
    const std::vector<std::string> left = files_in(out);
    EXPECT_EQ(left.size(), static_cast<size_t>(n - 1)) << "write " << n;
    for (const std::string& f : left) {
      if (f.size() > 4 && f.substr(f.size() - 4) == ".png") {
        EXPECT_EQ(io::read_png(out + "/" + f).shape(), (Shape{64, 64, 3})) << f;
      } else {
        ADD_FAILURE() << "write " << n << " left " << f;
      }
    }
    CliRun again = testing::run_hipt(args + out);
    EXPECT_EQ(again.code, 0) << again.err;
    EXPECT_EQ(files_in(out).size(), 14u);
  }
}

// Two slides, a partial save after every region: the failure hits, in turn, each write of the run
// (the partial saves and the final file of each slide). The slides finished before the failure
// stay, byte for byte those of a run without failures; the failed slide is one error line; and a
// rerun skips the finished slides, resumes the one that failed, and ends with the files of a run
// without failures.
TEST(WriteFaults, EmbedKeepsFinishedSlidesAndResumesTheFailedOneHeavy) {
  const std::string dir = testing::fresh_dir("write_faults_embed");
  const std::string a = dir + "/a.svs", b = dir + "/b.svs";
  testing::write_slide(a, testing::small_image(), 20);
  testing::write_slide(b, testing::tissue_image(512, 512, {{{256, 256, 200, 150}}}), 20);
  const std::string args = "embed " + a + " " + b + testing::model_flags() + " --size 256 --a-t 0.05 --save-every 1 --out ";
  CliRun clean = testing::run_hipt(args + dir + "/want");
  ASSERT_EQ(clean.code, 0) << clean.err;
  const std::vector<std::string> outputs = {"a.safetensors", "b.safetensors"};
  ASSERT_EQ(files_in(dir + "/want"), outputs);

  int n = 1;
  for (;; ++n) {
    ASSERT_LE(n, 64) << "a run of two small slides should make fewer writes";
    const std::string out = dir + "/out" + std::to_string(n);
    CliRun r = testing::run_hipt(args + out, "HIPT_FAULT_WRITE=ENOSPC:" + std::to_string(n) + " ");
    if (r.code == 0) break;  // n is past the run's last write
    const std::string what = "write " + std::to_string(n);
    expect_one_error_line(r, out + "/", "No space left on device", what);
    const nlohmann::json s = testing::parse_summary(r);
    EXPECT_EQ(s["failed"], 1) << what;
    std::vector<std::string> finished;
    std::string partial;  // the failed slide's last good save, if it made one
    for (const std::string& f : files_in(out)) {
      if (f == outputs[0] + ".partial" || f == outputs[1] + ".partial") {
        partial = f;
        continue;
      }
      ASSERT_TRUE(f == outputs[0] || f == outputs[1]) << what << " left " << f;
      testing::expect_same_output(out + "/" + f, dir + "/want/" + f);
      finished.push_back(f);
    }
    EXPECT_EQ(finished.size(), 1u) << what << ": the other slide finishes";
    CliRun again = testing::run_hipt(args + out);
    ASSERT_EQ(again.code, 0) << what << ": " << again.err;
    const nlohmann::json t = testing::parse_summary(again);
    EXPECT_EQ(t["skipped"], 1) << what;
    for (const auto& slide : t["slides"]) {
      if (slide["status"] != "skipped") {
        EXPECT_EQ(slide["status"], partial.empty() ? "done" : "resumed") << what;
      }
    }
    EXPECT_EQ(files_in(out), outputs) << what;
    for (const std::string& f : outputs) testing::expect_same_output(out + "/" + f, dir + "/want/" + f);
  }
  EXPECT_GE(n, 4) << "each slide makes at least one partial save and its final write";
}

}  // namespace
}  // namespace hipt
