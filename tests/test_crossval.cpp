// hipt/train/slide_data: the labels CSV readers and their errors, the folds, the split files, the
// survival bins and the bags of feature files.
#include <set>

#include "hipt/train/slide_data.h"
#include "slide_cohort.h"
#include "testing.h"

namespace hipt::train {
namespace {
using testing::expect_error;
using testing::fresh_dir;
using testing::write_text;

std::string labels_file(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name;
  write_text(path, text);
  return path;
}

TEST(CrossValLabels, ReadsClamSubtypingWithCasesOfSeveralSlides) {
  const std::string p =
      labels_file("labels_ok.csv", ",case_id,slide_id,label,extra\n0,c1,s1,LUSC,x\n1,c1,s2,LUSC,y\n2,c2,s3,LUAD,z\n");
  LabelSet l = read_labels(p, SlideTask::kSubtype);
  EXPECT_EQ(l.classes, (std::vector<std::string>{"LUAD", "LUSC"}));  // sorted when not given
  ASSERT_EQ(l.cases.size(), 2u);
  EXPECT_EQ(l.cases[0].slides, (std::vector<std::string>{"s1", "s2"}));
  EXPECT_EQ(l.cases[0].lines, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(l.cases[0].label, 1);
  EXPECT_EQ(l.cases[1].label, 0);
  // Classes given: their order is the index.
  EXPECT_EQ(read_labels(p, SlideTask::kSubtype, {"LUSC", "LUAD"}).cases[0].label, 0);
}

TEST(CrossValLabels, EachBadLineIsOneErrorNamingIt) {
  auto bad = [](const std::string& text, SlideTask task, const std::vector<std::string>& parts,
                const std::vector<std::string>& classes = {}) {
    const std::string p = labels_file("labels_bad.csv", text);
    std::vector<std::string> all{p};
    all.insert(all.end(), parts.begin(), parts.end());
    expect_error([&] { read_labels(p, task, classes); }, all);
  };
  const SlideTask sub = SlideTask::kSubtype, surv = SlideTask::kSurvival;
  bad("case_id,slide_id,label\nc1,s1,A\nc2,s2,C\n", sub, {"line 3", "unknown label 'C'"}, {"A", "B"});
  bad("case_id,slide_id,label\nc1,s1,A\nc2,s1,B\n", sub, {"line 3", "slide 's1' is listed twice", "line 2"});
  bad("case_id,slide_id,label\nc1,s1,A\nc2,s2,B\nc1,s3,B\n", sub, {"line 4", "case 'c1'", "label B", "label A"});
  bad("case_id,slide_id,label\nc1,s1,A\nc2,,B\n", sub, {"line 3", "empty slide_id"});
  bad("case_id,slide_id\nc1,s1\n", sub, {"line 1", "no column 'label'"});
  bad("case_id,slide_id,label\nc1,s1,A\nc2,s2,A\n", sub, {"at least 2 classes"});
  const std::string head = "case_id,slide_id,survival_months,censorship\n";
  bad(head + "c1,s1,10,0\nc2,s2,-1,1\n", surv, {"line 3", "survival_months '-1'"});
  bad(head + "c1,s1,10,0\nc2,s2,nan,1\n", surv, {"line 3", "survival_months 'nan'"});
  bad(head + "c1,s1,10,0\nc2,s2,abc,1\n", surv, {"line 3", "survival_months 'abc'"});
  bad(head + "c1,s1,10,0\nc2,s2,5,2\n", surv, {"line 3", "censorship '2' must be 0 or 1"});
  bad(head + "c1,s1,10,0\nc1,s2,12,0\n", surv, {"line 3", "case 'c1'", "survival_months 12"});
  bad(head + "c1,s1,10,1\nc2,s2,12,1\n", surv, {"every case is censored"});
  bad("case_id,slide_id,label\nc1,s1\n", sub, {"line 2", "2 fields, the header needs 3"});
}

TEST(CrossValLabels, SurvivalBinsAreTheUncensoredQuartiles) {
  // Uncensored times 1, 2, 3, 4, 5: quartiles 2, 3, 4; outer edges from every case (0.5 and 9).
  const std::string p =
      labels_file("labels_surv.csv",
                  "case_id,slide_id,survival_months,censorship\na,a1,1,0\nb,b1,2,0\nc,c1,3,0\nd,d1,4,0\ne,e1,5,0\n"
                  "f,f1,0.5,1\ng,g1,9,1\ng,g2,9,1\nh,h1,3,1\n");
  LabelSet l = read_labels(p, SlideTask::kSurvival);
  ASSERT_EQ(l.bin_edges.size(), 5u);
  EXPECT_DOUBLE_EQ(l.bin_edges[0], 0.5 - 1e-6);
  EXPECT_DOUBLE_EQ(l.bin_edges[1], 2);
  EXPECT_DOUBLE_EQ(l.bin_edges[2], 3);
  EXPECT_DOUBLE_EQ(l.bin_edges[3], 4);
  EXPECT_DOUBLE_EQ(l.bin_edges[4], 9 + 1e-6);
  EXPECT_EQ(l.n_outputs(), 4);
  std::vector<int64_t> bins;
  for (const auto& c : l.cases) bins.push_back(c.label);
  // right = False: a time on an edge goes to the bin above it.
  EXPECT_EQ(bins, (std::vector<int64_t>{0, 1, 2, 3, 3, 0, 3, 2}));
  EXPECT_EQ(l.cases[6].slides.size(), 2u);
  // Non-integer quantiles interpolate: times 1, 2 -> 1.25, 1.5, 1.75.
  std::vector<CaseLabel> two(2);
  two[0].time = 1, two[1].time = 2;
  EXPECT_DOUBLE_EQ(survival_bin_edges(two, 4)[1], 1.25);
}

TEST(CrossValFolds, StratifiedByCaseDisjointAndSeeded) {
  std::string text = "case_id,slide_id,label\n";
  for (int i = 0; i < 60; ++i)
    text += fmt::format("c{},s{}a,{}\nc{},s{}b,{}\n", i, i, i % 3 == 0 ? "B" : "A", i, i, i % 3 == 0 ? "B" : "A");
  LabelSet l = read_labels(labels_file("labels_folds.csv", text), SlideTask::kSubtype);
  const auto folds = kfold_splits(l, 5, 7);
  ASSERT_EQ(folds.size(), 5u);
  std::multiset<size_t> tested;
  for (const Split& s : folds) {
    EXPECT_EQ(s.test.size(), 12u);
    int b = 0;
    for (size_t c : s.test) b += l.cases[c].label == 1;
    EXPECT_EQ(b, 4);              // a third of every fold is class B
    EXPECT_EQ(s.val.size(), 5u);  // 10% of 32 A (3) and of 16 B (2)
    EXPECT_EQ(s.train.size() + s.val.size() + s.test.size(), 60u);
    std::set<size_t> all(s.train.begin(), s.train.end());
    all.insert(s.val.begin(), s.val.end());
    all.insert(s.test.begin(), s.test.end());
    EXPECT_EQ(all.size(), 60u);
    tested.insert(s.test.begin(), s.test.end());
  }
  EXPECT_EQ(std::set<size_t>(tested.begin(), tested.end()).size(), 60u);  // every case tested once
  EXPECT_EQ(kfold_splits(l, 5, 7)[2].test, folds[2].test);
  EXPECT_NE(kfold_splits(l, 5, 8)[2].test, folds[2].test);
  expect_error([&] { kfold_splits(l, 61, 7); }, {"61 folds need 2 to 60 cases"});
  // Label fraction: a seeded subset in the original order.
  const auto half = subsample(folds[0].train, 0.5, 3);
  EXPECT_EQ(half.size(), (folds[0].train.size() + 1) / 2);
  EXPECT_TRUE(std::is_sorted(half.begin(), half.end()));
  EXPECT_EQ(subsample(folds[0].train, 1.0, 3), folds[0].train);
  expect_error([&] { subsample(folds[0].train, 0, 3); }, {"label fraction 0"});
}

TEST(CrossValFolds, ReadsClamSplitFilesBySlideOrCase) {
  LabelSet l = read_labels(
      labels_file("labels_split.csv", "case_id,slide_id,label\nc1,s1,A\nc1,s2,A\nc2,s3,B\nc3,s4,A\nc4,s5,B\n"),
      SlideTask::kSubtype);
  const std::string dir = fresh_dir("splits");
  write_text(dir + "/splits_0.csv", ",train,val,test\n0,s1,s4,c4\n1,s2,,\n2,s3,,\n");
  write_text(dir + "/splits_1.csv", ",train,val\n0,c3,c1\n1,c4,\n");
  const auto splits = read_splits_dir(dir, l);
  ASSERT_EQ(splits.size(), 2u);
  EXPECT_EQ(splits[0].train, (std::vector<size_t>{0, 1}));  // s1 and s2 are both case c1
  EXPECT_EQ(splits[0].val, (std::vector<size_t>{2}));
  EXPECT_EQ(splits[0].test, (std::vector<size_t>{3}));
  EXPECT_TRUE(splits[1].test.empty());
  write_text(dir + "/splits_0.csv", ",train,val,test\n0,s1,s9,c4\n");
  expect_error([&] { read_splits_dir(dir, l); }, {"splits_0.csv", "line 2", "'s9' in column val"});
  write_text(dir + "/splits_0.csv", ",train,val,test\n0,s1,s2,c4\n");
  expect_error([&] { read_splits_dir(dir, l); }, {"line 2", "case 'c1' is in both train and val"});
  expect_error([&] { read_splits_dir(fresh_dir("nosplits"), l); }, {"no splits_0.csv"});
}

TEST(CrossValBags, SubtypePerSlideSurvivalPerCaseAndTheirErrors) {
  const std::string dir = fresh_dir("bags");
  testing::write_feature_file(dir, "s1", ops::full({3, 192}, 1.0));
  testing::write_feature_file(dir, "s2", ops::full({2, 192}, 2.0));
  testing::write_feature_file(dir, "s3", ops::zeros({0, 192}));
  testing::write_feature_file(dir, "s4", ops::full({1, 192}, 4.0), "other");
  LabelSet sub =
      read_labels(labels_file("labels_bags.csv", "case_id,slide_id,label\nc1,s1.svs,A\nc1,s2,A\nc2,s3,B\nc3,s4,B\n"),
                  SlideTask::kSubtype);
  std::vector<std::string> warnings;
  auto warn = [&](const std::string& w) { warnings.push_back(w); };
  auto bags = load_bags(sub, dir, "sha", warn);
  ASSERT_EQ(bags.size(), 3u);  // s1, s2, s4; s3 has no regions
  EXPECT_EQ(bags[0].size(), 3);
  EXPECT_EQ(bags[1].slides, (std::vector<std::string>{"s2"}));
  EXPECT_FALSE(bags[2].features_match);
  EXPECT_FALSE(bags[2].region_features.defined());  // recomputed by the trainer from patch features
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_THAT(warnings[0], ::testing::HasSubstr("slide s3"));
  EXPECT_THAT(warnings[1], ::testing::HasSubstr("another ViT-4K"));
  testing::expect_error([&] { bags[2].patch_features(); }, {"s4.safetensors", "no patch_features"});

  LabelSet surv = read_labels(labels_file("labels_bags_s.csv",
                                          "case_id,slide_id,survival_months,censorship\nc1,s1,3,0\nc1,s2,3,0\n"
                                          "c2,s3,5,0\nc3,s4,8,1\n"),
                              SlideTask::kSurvival);
  auto cases = load_bags(surv, dir, "sha", warn);
  ASSERT_EQ(cases.size(), 2u);  // c2 has only the empty slide
  EXPECT_EQ(cases[0].size(), 5);
  EXPECT_EQ(cases[0].region_features.shape(), (Shape{5, 192}));
  EXPECT_EQ(ops::to_vector<float>(cases[0].region_features)[192 * 3], 2.0f);  // s2's regions follow s1's
  EXPECT_EQ(cases[0].coords.shape(), (Shape{5, 2}));

  LabelSet missing =
      read_labels(labels_file("labels_bags_m.csv", "case_id,slide_id,label\nc1,s1,A\nc2,s9,B\n"), SlideTask::kSubtype);
  expect_error([&] { load_bags(missing, dir, "sha", warn); }, {"line 3", "slide 's9' has no feature file"});
  testing::write_feature_file(dir, "s9", ops::full({1, 192}, 1.0), "sha", "2048");
  expect_error([&] { load_bags(missing, dir, "sha", warn); }, {"s9.safetensors", "region size 2048", "4096"});
}

}  // namespace
}  // namespace hipt::train
