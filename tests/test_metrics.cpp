// hipt/train/metrics: hand-worked cases with ties, and random cases against scikit-learn and
// scikit-survival's definition of the c-index (scripts/make_metrics_fixture.py).
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "hipt/train/metrics.h"
#include "testing.h"

namespace hipt::train {
namespace {

TEST(Metrics, AccuracyAndBalancedAccuracyByHand) {
  EXPECT_DOUBLE_EQ(accuracy({0, 1, 1, 0}, {0, 1, 0, 0}), 0.75);
  // Recall 1 for class 0 (3 of 3) and 0 for class 1: balanced 0.5, plain 0.75.
  EXPECT_DOUBLE_EQ(balanced_accuracy({0, 0, 0, 1}, {0, 0, 0, 0}), 0.5);
  EXPECT_DOUBLE_EQ(accuracy({0, 0, 0, 1}, {0, 0, 0, 0}), 0.75);
  // A class predicted but absent from the labels does not count: classes 0 (1/2) and 2 (1/1).
  EXPECT_DOUBLE_EQ(balanced_accuracy({0, 0, 2}, {0, 1, 2}), 0.75);
  EXPECT_TRUE(std::isnan(accuracy({}, {})));
  testing::expect_error([] { accuracy({0, 1}, {0}); }, {"accuracy", "2 and 1 samples"});
}

TEST(MetricsAuc, BinaryWithTiedScores) {
  // Positives 0.8, 0.5; negatives 0.5, 0.2: pairs won 1 + 1 + 1, the tie 0.5 -> 3.5 / 4.
  EXPECT_DOUBLE_EQ(binary_auc({true, true, false, false}, {0.8, 0.5, 0.5, 0.2}), 0.875);
  EXPECT_DOUBLE_EQ(binary_auc({true, false}, {0.3, 0.3}), 0.5);
  EXPECT_DOUBLE_EQ(binary_auc({false, true, false}, {0.9, 0.1, 0.2}), 0.0);
  EXPECT_TRUE(std::isnan(binary_auc({true, true}, {0.1, 0.2})));
  // Two classes: the AUC of P(class 1).
  EXPECT_DOUBLE_EQ(roc_auc({1, 1, 0, 0}, {{0.2, 0.8}, {0.5, 0.5}, {0.5, 0.5}, {0.8, 0.2}}), 0.875);
}

TEST(MetricsAuc, MultiClassIsTheNanMeanOfOneVsRest) {
  // Class 0: perfect (1); class 1: positive 0.3 vs negatives 0.1, 0.4 -> 0.5; class 2 absent: NaN, ignored.
  const std::vector<std::vector<double>> p = {{0.9, 0.1, 0.0}, {0.2, 0.3, 0.5}, {0.5, 0.4, 0.1}};
  EXPECT_DOUBLE_EQ(roc_auc({0, 1, 0}, p), 0.75);
  testing::expect_error([&] { roc_auc({0, 1}, {{0.5, 0.5}, {1.0}}); }, {"2 and 1 class probabilities"});
}

TEST(MetricsCindex, HandWorkedWithTiedTimesAndRisks) {
  // Comparable pairs: (0,1) (0,2) (0,3) from the event at t=1; (1,2) (censored at the same time) and
  // (1,3) from the event at t=2. All concordant except (1,2), a tied risk: 4.5 / 5.
  EXPECT_DOUBLE_EQ(concordance_index({true, true, false, false}, {1, 2, 2, 3}, {4, 3, 3, 1}), 0.9);
  // Risks within tied_tol count as a tie; beyond it they do not.
  EXPECT_DOUBLE_EQ(concordance_index({true, false}, {1, 2}, {1.0, 1.0 + 5e-9}), 0.5);
  EXPECT_DOUBLE_EQ(concordance_index({true, false}, {1, 2}, {1.0, 1.0 - 5e-8}), 1.0);
  EXPECT_DOUBLE_EQ(concordance_index({true, false}, {1, 2}, {1.0, 1.0 - 5e-8}, 1e-7), 0.5);
  // Two events at the same time are not comparable, nor is a censored sample before an event.
  EXPECT_TRUE(std::isnan(concordance_index({true, true}, {1, 1}, {1, 2})));
  EXPECT_TRUE(std::isnan(concordance_index({false, true}, {1, 2}, {1, 2})));
}

TEST(Metrics, MatchScikitLearnAndSurvivalOnRandomCases) {
  std::ifstream in(std::string(HIPT_TEST_DATA) + "/metrics_cases.json");
  ASSERT_TRUE(in) << "metrics_cases.json";
  const nlohmann::json cases = nlohmann::json::parse(in);
  ASSERT_EQ(cases["classification"].size(), 40u);
  for (const auto& c : cases["classification"]) {
    const auto y = c["y"].get<std::vector<int64_t>>(), pred = c["pred"].get<std::vector<int64_t>>();
    const auto probs = c["probs"].get<std::vector<std::vector<double>>>();
    EXPECT_NEAR(accuracy(y, pred), c["accuracy"].get<double>(), 1e-12);
    EXPECT_NEAR(balanced_accuracy(y, pred), c["balanced_accuracy"].get<double>(), 1e-12);
    EXPECT_NEAR(roc_auc(y, probs), c["auc"].get<double>(), 1e-12);
  }
  ASSERT_EQ(cases["survival"].size(), 40u);
  for (const auto& c : cases["survival"]) {
    const auto ev = c["event"].get<std::vector<int>>();
    const std::vector<bool> event(ev.begin(), ev.end());
    EXPECT_NEAR(concordance_index(event, c["time"].get<std::vector<double>>(), c["risk"].get<std::vector<double>>()),
                c["cindex"].get<double>(), 1e-12);
  }
}

}  // namespace
}  // namespace hipt::train
