// Evaluation metrics of the slide-level tasks, as pure functions on vectors, defined as the
// reference computes them: scikit-learn's accuracy_score, balanced_accuracy_score and
// roc_auc_score (CLAM's one-vs-rest mean for more than two classes), and scikit-survival's
// concordance_index_censored. A metric that is undefined on its input (no positive or no negative
// sample, no comparable pair) is NaN rather than an error, so that a small fold still reports.
#pragma once
#include <cstdint>
#include <vector>

namespace hipt::train {

// Fraction of y_pred equal to y_true. NaN when empty.
double accuracy(const std::vector<int64_t>& y_true, const std::vector<int64_t>& y_pred);

// The mean over the classes present in y_true of each class's recall (sklearn's
// balanced_accuracy_score, adjusted = False). NaN when empty.
double balanced_accuracy(const std::vector<int64_t>& y_true, const std::vector<int64_t>& y_pred);

// Area under the ROC curve of `score` for positives (is_positive true) against negatives: the
// probability that a random positive scores above a random negative, ties counting one half
// (equal to the trapezoidal area sklearn's roc_auc_score takes). NaN without both kinds.
double binary_auc(const std::vector<bool>& is_positive, const std::vector<double>& score);

// The reference's slide-level AUC: probs[i] holds the class probabilities of sample i (all the
// same length C >= 2). C = 2: binary_auc on P(class 1). C > 2: the mean, ignoring NaNs, of the
// one-vs-rest AUCs of each class (NaN for a class absent from y_true); NaN if every one is NaN.
double roc_auc(const std::vector<int64_t>& y_true, const std::vector<std::vector<double>>& probs);

// Harrell's concordance index as sksurv.metrics.concordance_index_censored(event, time, risk,
// tied_tol): a pair (i, j) is comparable when i had the event and time[j] > time[i], or
// time[j] == time[i] and j is censored; it is concordant when risk[i] > risk[j], and counts one
// half when |risk[i] - risk[j]| <= tied_tol. NaN without a comparable pair (sksurv raises).
double concordance_index(const std::vector<bool>& event, const std::vector<double>& time,
                         const std::vector<double>& risk, double tied_tol = 1e-8);

}  // namespace hipt::train
