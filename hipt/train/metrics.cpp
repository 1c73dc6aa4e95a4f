#include "hipt/train/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

#include "tensor/error.h"

namespace hipt::train {
namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check_sizes(size_t a, size_t b, const char* what) {
  HIPT_CHECK(a == b, "{}: the inputs have {} and {} samples", what, a, b);
}
}  // namespace

double accuracy(const std::vector<int64_t>& y_true, const std::vector<int64_t>& y_pred) {
  check_sizes(y_true.size(), y_pred.size(), "accuracy");
  if (y_true.empty()) return kNaN;
  size_t right = 0;
  for (size_t i = 0; i < y_true.size(); ++i) right += y_true[i] == y_pred[i];
  return static_cast<double>(right) / static_cast<double>(y_true.size());
}

double balanced_accuracy(const std::vector<int64_t>& y_true, const std::vector<int64_t>& y_pred) {
  check_sizes(y_true.size(), y_pred.size(), "balanced_accuracy");
  if (y_true.empty()) return kNaN;
  std::map<int64_t, std::pair<size_t, size_t>> per_class;  // class -> (right, total)
  for (size_t i = 0; i < y_true.size(); ++i) {
    auto& [right, total] = per_class[y_true[i]];
    right += y_true[i] == y_pred[i];
    ++total;
  }
  double sum = 0;
  for (const auto& [c, rt] : per_class) sum += static_cast<double>(rt.first) / static_cast<double>(rt.second);
  return sum / static_cast<double>(per_class.size());
}

double binary_auc(const std::vector<bool>& is_positive, const std::vector<double>& score) {
  check_sizes(is_positive.size(), score.size(), "binary_auc");
  const size_t n = score.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score[a] < score[b]; });
  // Mann-Whitney: the rank sum of the positives, tied scores sharing their mean rank.
  double rank_sum = 0;
  size_t positives = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && score[order[j]] == score[order[i]]) ++j;
    const double mean_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    for (size_t k = i; k < j; ++k)
      if (is_positive[order[k]]) {
        rank_sum += mean_rank;
        ++positives;
      }
    i = j;
  }
  const size_t negatives = n - positives;
  if (positives == 0 || negatives == 0) return kNaN;
  const double p = static_cast<double>(positives);
  return (rank_sum - p * (p + 1) / 2) / (p * static_cast<double>(negatives));
}

double roc_auc(const std::vector<int64_t>& y_true, const std::vector<std::vector<double>>& probs) {
  check_sizes(y_true.size(), probs.size(), "roc_auc");
  if (probs.empty()) return kNaN;
  const size_t C = probs[0].size();
  HIPT_CHECK(C >= 2, "roc_auc: needs at least 2 class probabilities per sample, got {}", C);
  for (const auto& p : probs)
    HIPT_CHECK(p.size() == C, "roc_auc: samples have {} and {} class probabilities", C, p.size());
  auto one_vs_rest = [&](size_t c) {
    std::vector<bool> pos(y_true.size());
    std::vector<double> s(y_true.size());
    for (size_t i = 0; i < y_true.size(); ++i) {
      pos[i] = y_true[i] == static_cast<int64_t>(c);
      s[i] = probs[i][c];
    }
    return binary_auc(pos, s);
  };
  if (C == 2) return one_vs_rest(1);
  double sum = 0;
  size_t defined = 0;
  for (size_t c = 0; c < C; ++c) {
    const double a = one_vs_rest(c);
    if (std::isnan(a)) continue;
    sum += a;
    ++defined;
  }
  return defined ? sum / static_cast<double>(defined) : kNaN;
}

double concordance_index(const std::vector<bool>& event, const std::vector<double>& time,
                         const std::vector<double>& risk, double tied_tol) {
  check_sizes(event.size(), time.size(), "concordance_index");
  check_sizes(event.size(), risk.size(), "concordance_index");
  const size_t n = time.size();
  double numerator = 0, comparable = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!event[i]) continue;
    for (size_t j = 0; j < n; ++j) {
      if (!(time[j] > time[i] || (j != i && time[j] == time[i] && !event[j]))) continue;
      comparable += 1;
      if (std::fabs(risk[j] - risk[i]) <= tied_tol)
        numerator += 0.5;
      else if (risk[j] < risk[i])
        numerator += 1;
    }
  }
  return comparable > 0 ? numerator / comparable : kNaN;
}

}  // namespace hipt::train
