#!/usr/bin/python3
"""Writes tests/data/metrics_cases.json: random cases for hipt/train/metrics.h with scikit-learn's
answers, for tests/test_metrics.cpp.

    /usr/bin/python3 scripts/make_metrics_fixture.py      # Debian's python3-sklearn

accuracy_score, balanced_accuracy_score and roc_auc_score come from scikit-learn; the multi-class
AUC is the reference's (CLAM core_utils): the nan-mean of the one-vs-rest AUCs of the classes
present in the labels. scikit-survival is not available offline, so the c-index is computed here
from its documented definition of concordance_index_censored (sksurv/metrics.py): samples sorted
by time; an event at time t is comparable with every later sample and with the samples censored at
t; concordant when the other's estimate is lower, one half when |difference| <= tied_tol.
Scores and times are rounded to few digits so that ties are frequent.
"""
import json
import os

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, roc_auc_score


def cindex_censored(event, time, estimate, tied_tol=1e-8):
    order = np.argsort(time, kind="mergesort")
    n = len(time)
    num = den = 0.0
    i = 0
    while i < n - 1:
        t = time[order[i]]
        end = i + 1
        while end < n and time[order[end]] == t:
            end += 1
        censored_here = ~event[order[i:end]]
        for j in range(i, end):
            if not event[order[j]]:
                continue
            mask = np.zeros(n, dtype=bool)
            mask[end:] = True
            mask[i:end] = censored_here
            est = estimate[order[mask]]
            ties = np.abs(est - estimate[order[j]]) <= tied_tol
            num += (est < estimate[order[j]])[~ties].sum() + 0.5 * ties.sum()
            den += mask.sum()
        i = end
    return num / den if den else float("nan")


def main():
    rng = np.random.default_rng(15)
    classification, survival = [], []
    for case in range(40):
        n = int(rng.integers(5, 60))
        C = 2 if case % 2 == 0 else int(rng.integers(3, 5))
        y = rng.integers(0, C, n)
        y[:C] = np.arange(C)  # every class present
        logits = np.round(rng.normal(size=(n, C)) + 1.5 * np.eye(C)[y], 1)
        p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        p = np.round(p, 2)
        pred = p.argmax(1)
        if C == 2:
            auc = roc_auc_score(y, p[:, 1])
        else:
            auc = float(np.nanmean([roc_auc_score(y == c, p[:, c]) for c in range(C)]))
        classification.append({"y": y.tolist(), "probs": p.tolist(), "pred": pred.tolist(),
                               "accuracy": accuracy_score(y, pred),
                               "balanced_accuracy": balanced_accuracy_score(y, pred), "auc": auc})
    for case in range(40):
        n = int(rng.integers(5, 80))
        time = np.round(rng.exponential(10, n), 0)
        event = rng.random(n) < 0.6
        event[0] = True
        risk = np.round(-time / 10 + rng.normal(size=n), 1)
        survival.append({"event": event.astype(int).tolist(), "time": time.tolist(), "risk": risk.tolist(),
                         "cindex": cindex_censored(event, time, risk)})
    path = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "metrics_cases.json")
    with open(path, "w") as f:
        json.dump({"script": "scripts/make_metrics_fixture.py", "classification": classification,
                   "survival": survival}, f)
    print(path)


if __name__ == "__main__":
    main()
