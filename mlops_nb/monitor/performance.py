"""Model performance on a labelled batch, compared with the metrics recorded at registration.

Classification: accuracy, precision, recall, f1 (binary: of the positive class; multiclass:
macro) and auc when the model has ``predict_proba``. Regression: rmse, mae, r2. A metric
degrades when it is worse than the baseline by more than ``tolerance`` x |baseline|
(``monitor.tolerance``, default 0.05, per metric ``monitor.metrics.<name>.tolerance``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

    from .settings import Settings

HIGHER_IS_BETTER = {"accuracy", "precision", "recall", "f1", "auc", "r2"}
LOWER_IS_BETTER = {"rmse", "mae", "mse", "log_loss"}
# Names a registered model may use for the metrics computed here.
ALIASES = {"roc_auc": "auc", "acc": "accuracy", "f1_score": "f1", "r2_score": "r2"}


@dataclass
class Comparison:
    metric: str
    baseline: float
    current: float
    tolerance: float
    degraded: bool

    @property
    def change(self) -> float:
        return self.current - self.baseline


@dataclass
class Performance:
    task: str  # "classification" or "regression"
    metrics: dict[str, float]
    baseline: dict[str, float]
    baseline_source: str  # "registry", "reference" or "" (none)
    labelled_rows: int
    comparisons: list[Comparison] = field(default_factory=list)

    @property
    def degraded(self) -> list[str]:
        return [c.metric for c in self.comparisons if c.degraded]


def is_classifier(model: Any) -> bool:
    if getattr(model, "_estimator_type", None) == "classifier" or hasattr(model, "classes_"):
        return True
    try:
        from sklearn.base import is_classifier as sk_is_classifier

        return bool(sk_is_classifier(model))
    except (ImportError, AttributeError, TypeError):
        return hasattr(model, "predict_proba")


def feature_frame(model: Any, frame: pd.DataFrame, exclude: set[str]) -> pd.DataFrame:
    """The columns the model was fitted on (``feature_names_in_``), else all but ``exclude``."""
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return frame[[c for c in frame.columns if str(c) not in exclude]]
    names = [str(n) for n in names]
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise UsageError(
            f"the batch lacks feature column(s) {missing[:10]} the model was trained on; "
            "pass a batch with every feature"
        )
    return frame[names]


def _sklearn_metrics() -> Any:
    try:
        from sklearn import metrics
    except ImportError:
        raise UsageError(
            "performance metrics need scikit-learn: pip install 'mlops_nb[sklearn]'"
        ) from None
    return metrics


def classification_metrics(model: Any, features: pd.DataFrame, truth: np.ndarray) -> dict:
    m = _sklearn_metrics()
    predicted = np.asarray(model.predict(features))
    classes = list(getattr(model, "classes_", np.unique(np.concatenate([truth, predicted]))))
    binary = len(classes) == 2
    average = "binary" if binary else "macro"
    options = {"average": average, "zero_division": 0}
    if binary:
        options["pos_label"] = classes[1]
    result = {
        "accuracy": m.accuracy_score(truth, predicted),
        "precision": m.precision_score(truth, predicted, **options),
        "recall": m.recall_score(truth, predicted, **options),
        "f1": m.f1_score(truth, predicted, **options),
    }
    if hasattr(model, "predict_proba") and len(np.unique(truth)) > 1:
        proba = np.asarray(model.predict_proba(features))
        try:
            if binary:
                result["auc"] = m.roc_auc_score(truth == classes[1], proba[:, 1])
            else:
                result["auc"] = m.roc_auc_score(
                    truth, proba, multi_class="ovr", average="macro", labels=classes
                )
        except ValueError:
            pass  # a class of the batch the model never saw: no auc
    return {k: float(v) for k, v in result.items()}


def regression_metrics(model: Any, features: pd.DataFrame, truth: np.ndarray) -> dict:
    m = _sklearn_metrics()
    predicted = np.asarray(model.predict(features), dtype="float64")
    truth = truth.astype("float64")
    result = {
        "rmse": math.sqrt(m.mean_squared_error(truth, predicted)),
        "mae": m.mean_absolute_error(truth, predicted),
    }
    if truth.size > 1:
        result["r2"] = m.r2_score(truth, predicted)
    return {k: float(v) for k, v in result.items()}


def check_batch(model: Any, frame: pd.DataFrame, labels: str) -> None:
    """UsageError unless ``frame`` has the label column and every feature of the model."""
    if labels not in frame.columns:
        raise UsageError(f"label column {labels!r} is not in the batch; pass --labels COLUMN")
    feature_frame(model, frame.iloc[:0], {labels})


def score(model: Any, frame: pd.DataFrame, labels: str) -> tuple[str, dict[str, float], int]:
    """(task, metrics, labelled rows) of ``model`` on the rows of ``frame`` that have labels."""
    check_batch(model, frame, labels)
    task = "classification" if is_classifier(model) else "regression"
    labelled = frame[frame[labels].notna()]
    if labelled.empty:
        return task, {}, 0
    features = feature_frame(model, labelled, {labels})
    truth = labelled[labels].to_numpy()
    try:
        compute = classification_metrics if task == "classification" else regression_metrics
        metrics = compute(model, features, truth)
    except (ValueError, TypeError, KeyError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"the model cannot score this batch: {first}") from None
    return task, metrics, len(labelled)


def compare(metrics: dict[str, float], baseline: dict[str, float], settings: Settings) -> list:
    found = []
    for name, value in metrics.items():
        base = baseline.get(name)
        if base is None or not math.isfinite(base) or not math.isfinite(value):
            continue
        tolerance = settings.tolerance_for(name)
        worse = (base - value) if name in HIGHER_IS_BETTER else (value - base)
        degraded = worse > tolerance * abs(base) + 1e-12
        found.append(Comparison(name, base, value, tolerance, bool(degraded)))
    return found


def registered_baseline(recorded: dict[str, Any] | None) -> dict[str, float]:
    """Numeric metrics recorded with the model version, under this module's names."""
    found = {}
    for key, value in (recorded or {}).items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        found[ALIASES.get(str(key).lower(), str(key).lower())] = float(value)
    return found


def evaluate(
    model: Any,
    current: pd.DataFrame,
    labels: str,
    settings: Settings,
    recorded: dict[str, Any] | None,
    reference: pd.DataFrame | None,
) -> Performance:
    """Score the current batch; baseline = registered metrics, else the labelled reference."""
    task, metrics, labelled = score(model, current, labels)
    baseline, source = registered_baseline(recorded), "registry"
    if not set(baseline) & set(metrics):
        baseline, source = {}, ""
        if reference is not None and labels in reference.columns and metrics:
            baseline, source = score(model, reference, labels)[1], "reference"
    perf = Performance(task, metrics, baseline, source, labelled)
    perf.comparisons = compare(metrics, baseline, settings)
    return perf
