"""Protocol X1 metrics from pneumonia probabilities: AUC, ACC at 0.5, sensitivity, specificity, confusion, ROC."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve


def binary_metrics(prob: np.ndarray, y: np.ndarray, threshold: float = 0.5) -> dict:
    """Positive class = pneumonia (1). Confusion matrix rows = truth, columns = prediction: [[tn, fp], [fn, tp]]."""
    prob, y = np.asarray(prob, dtype=np.float64), np.asarray(y).astype(int)
    pred = (prob >= threshold).astype(int)
    tp = int(((pred == 1) & (y == 1)).sum())
    tn = int(((pred == 0) & (y == 0)).sum())
    fp = int(((pred == 1) & (y == 0)).sum())
    fn = int(((pred == 0) & (y == 1)).sum())
    both = len(np.unique(y)) == 2
    fpr, tpr, thr = roc_curve(y, prob) if both else (np.array([0.0, 1.0]), np.array([0.0, 1.0]), np.array([np.inf, 0.0]))
    return {
        "auc": float(roc_auc_score(y, prob)) if both else float("nan"),
        "acc": (tp + tn) / max(1, len(y)),
        "sensitivity": tp / max(1, tp + fn),
        "specificity": tn / max(1, tn + fp),
        "confusion": [[tn, fp], [fn, tp]],
        "roc": {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "threshold": np.minimum(thr, 1.0).tolist()},
    }


def at_threshold(prob: np.ndarray, y: np.ndarray, threshold: float) -> dict:
    """Sensitivity, specificity and ACC at any threshold (the page's slider)."""
    m = binary_metrics(prob, y, threshold)
    return {k: m[k] for k in ("acc", "sensitivity", "specificity", "confusion")}


def youden_threshold(prob: np.ndarray, y: np.ndarray) -> float:
    """The threshold that maximises sensitivity + specificity - 1 (Youden's J); pick it on val, never on test."""
    prob, y = np.asarray(prob, dtype=np.float64), np.asarray(y).astype(int)
    if len(np.unique(y)) < 2:
        return 0.5
    fpr, tpr, thr = roc_curve(y, prob)
    best = int(np.argmax(tpr - fpr))
    return float(min(1.0, thr[best]))


def threshold_report(val_prob: np.ndarray, val_y: np.ndarray, test_prob: np.ndarray, test_y: np.ndarray,
                     threshold: float) -> dict:
    """A threshold chosen on val, and what it gives: {"val": at_threshold(val), "test": at_threshold(test)}.

    The page draws val (ROC, slider, confusion); test is only the final report line at the chosen threshold.
    """
    return {"threshold": float(threshold), "val": at_threshold(val_prob, val_y, threshold),
            "test": at_threshold(test_prob, test_y, threshold)}
