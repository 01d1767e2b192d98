"""The seed papers' engagement and group-affect classifiers, fitted on a user's labels.

The papers fit ridge regression on the std part of the STAT descriptor (engagement,
EngageWild) and an SVC on the mean and std of the visible faces' features (group affect,
VGAF). Those data sets are not available here, so LectureLens' defaults are the transparent
rules of :mod:`lecturelens.windows`; with labelled windows of their own, users fit the
papers' classifiers with ``lecturelens train-engagement`` / ``train-group-affect`` and pass
the result to ``analyze --engagement-model`` / ``--group-affect-model``.

Models are stored as JSON (coefficients and scalers, no pickle) with a Markdown card beside.
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from lecturelens import reportfiles
from lecturelens.atomic import atomic_open, write_json
from lecturelens.errors import InputError
from lecturelens.windows import LEVELS, engagement_level

KEY_DECIMALS = 1


@dataclass
class EngagementModel:
    """Ridge regression on the std descriptor: engagement in 0..1."""

    dim: int  # emotion feature dimension
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    info: dict

    def predict(self, stat_descriptors: np.ndarray) -> np.ndarray:
        """Engagement (0..1) for ``N x 4D`` STAT descriptors (mean, std, min, max)."""
        x = _check_dim(stat_descriptors, 4 * self.dim, "engagement")[:, self.dim:2 * self.dim]
        y = ((x - self.mean) / self.scale) @ self.coef + self.intercept
        return np.clip(y, 0.0, 1.0)


@dataclass
class GroupAffectModel:
    """Linear SVC on the group descriptor (mean and std of the visible faces' features)."""

    dim: int
    classes: list[str]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # K x 2D (1 x 2D for two classes)
    intercept: np.ndarray
    info: dict

    def decision(self, group_descriptors: np.ndarray) -> np.ndarray:
        x = _check_dim(group_descriptors, 2 * self.dim, "group-affect")
        d = ((x - self.mean) / self.scale) @ self.coef.T + self.intercept
        if len(self.classes) == 2:
            d = np.concatenate([-d, d], axis=1)
        return d

    def scores(self, group_descriptors: np.ndarray) -> list[dict[str, float]]:
        """Per row, a score per class (softmax of the SVC's decision values)."""
        d = self.decision(group_descriptors)
        e = np.exp(d - d.max(1, keepdims=True))
        e /= e.sum(1, keepdims=True)
        return [{c: float(v) for c, v in zip(self.classes, row)} for row in e]


def _check_dim(x, want: int, what: str) -> np.ndarray:
    x = np.asarray(x, np.float64)
    if x.ndim != 2 or x.shape[1] != want:
        raise InputError(f"{what} model expects {want} features per row, got "
                         f"{x.shape[1] if x.ndim == 2 else x.shape}; it was trained with a "
                         "different emotion model")
    return x


def load_model(path: str | Path):
    """Load an :class:`EngagementModel` or :class:`GroupAffectModel` saved by this module."""
    path = Path(path)
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
        kind = d["kind"]
        arr = {k: np.asarray(d[k], np.float64) for k in ("mean", "scale", "coef")}
        if kind == "engagement-ridge":
            return EngagementModel(int(d["dim"]), arr["mean"], arr["scale"], arr["coef"],
                                   float(d["intercept"]), d.get("info", {}))
        if kind == "group-affect-linear-svc":
            return GroupAffectModel(int(d["dim"]), list(d["classes"]), arr["mean"],
                                    arr["scale"], arr["coef"],
                                    np.asarray(d["intercept"], np.float64), d.get("info", {}))
        raise KeyError(f"unknown kind {kind!r}")
    except FileNotFoundError:
        raise InputError(f"{path}: model file not found") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: not a LectureLens engagement/group-affect model ({exc}); "
                         "make one with `lecturelens train-engagement` or "
                         "`train-group-affect`") from None


# --- features and labels as CSV ------------------------------------------------------------

def export_features(report_dirs: Sequence[str | Path], out: str | Path,
                    group: bool = False) -> int:
    """Write the window descriptors of one or more reports as one CSV to label and train on.

    Args:
        report_dirs: report folders (``OUTDIR/<video>``) written by ``analyze``.
        out: the CSV: key columns (``video, student_id, name, start, end``; for ``group``
            ``video, start, end``) then ``f0, f1, ...``.
        group: the group descriptors (``group_features.npy``) instead of the students'.

    Returns:
        Rows written (windows whose descriptor is defined).
    """
    n = 0
    with atomic_open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        header_done = False
        for d in map(Path, report_dirs):
            table = d / (reportfiles.GROUP if group else reportfiles.WINDOWS)
            feats = d / (reportfiles.GROUP_FEATURES if group else reportfiles.WINDOW_FEATURES)
            if not table.is_file() or not feats.is_file():
                raise InputError(f"{d}: no {table.name}/{feats.name}; run `lecturelens "
                                 "analyze` (with an emotion model) first")
            x = np.load(feats)
            with open(table, newline="", encoding="utf-8") as t:
                rows = list(csv.DictReader(t))
            keys = ["start", "end"] if group else ["student_id", "name", "start", "end"]
            if not header_done:
                w.writerow(["video"] + keys + [f"f{i}" for i in range(x.shape[1])])
                header_done = True
            for r, f in zip(rows, x):
                if np.isfinite(f).all():
                    w.writerow([d.name] + [r[k] for k in keys]
                               + [f"{v:.5g}" for v in f.astype(np.float32)])
                    n += 1
    return n


def _key(row: dict, group: bool) -> tuple:
    start = round(float(row["start"]), KEY_DECIMALS)
    return (row["video"], start) if group else (row["video"], row["student_id"], start)


def _read_joined(features: str | Path, labels: str | Path, group: bool, label_col: str):
    for p in (features, labels):
        if not Path(p).is_file():
            raise InputError(f"{p}: file not found")
    with open(labels, newline="", encoding="utf-8") as fh:
        lab_rows = list(csv.DictReader(fh))
    need = {"video", "start", label_col} | (set() if group else {"student_id"})
    if not lab_rows or not need <= set(lab_rows[0]):
        raise InputError(f"{labels}: needs columns {', '.join(sorted(need))}")
    lab = {_key(r, group): r[label_col] for r in lab_rows if r[label_col] != ""}
    xs, ys = [], []
    with open(features, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        cols = [c for c in (reader.fieldnames or []) if c.startswith("f") and c[1:].isdigit()]
        if not cols:
            raise InputError(f"{features}: no feature columns f0, f1, ...; make it with "
                             "`lecturelens export-features`")
        for r in reader:
            k = _key(r, group)
            if k in lab:
                xs.append([float(r[c]) for c in cols])
                ys.append(lab[k])
    if len(xs) < 4:
        raise InputError(f"{labels}: only {len(xs)} labelled rows match {features}; "
                         "keys are video, (student_id,) start")
    return np.asarray(xs, np.float64), ys


def _engagement_value(v: str) -> float:
    x = float(v)
    # Level indices 0-3 (the paper's annotation) or scores in 0..1.
    if x > 1.0 and float(x).is_integer() and 0 <= x <= 3:
        return LEVELS[int(x)]
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"engagement label {v!r} is neither 0..1 nor a level 0-3")
    return x


def _scaler(x):
    mean = x.mean(0)
    scale = x.std(0)
    scale[scale < 1e-8] = 1.0
    return mean, scale


def _card(path: Path, title: str, lines: list[str]) -> None:
    with atomic_open(path.with_suffix(".md"), "w", encoding="utf-8") as fh:
        fh.write(f"# {title}\n\n" + "\n".join(f"- {ln}" for ln in lines) + "\n")


def train_engagement(features: str | Path, labels: str | Path, out: str | Path,
                     alpha: float = 1.0) -> dict:
    """Fit the paper's engagement regressor (ridge on the std descriptor).

    Args:
        features: CSV from ``export-features`` (student windows).
        labels: CSV with ``video, student_id, start, engagement`` (0..1, or levels 0-3).
        out: the model JSON (a ``.md`` card is written beside it).
        alpha: ridge regularisation.

    Returns:
        Training summary: rows, cross-validated MAE and level accuracy.
    """
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import cross_val_predict

    x, ys = _read_joined(features, labels, group=False, label_col="engagement")
    try:
        y = np.array([_engagement_value(v) for v in ys])
    except ValueError as exc:
        raise InputError(f"{labels}: {exc}") from None
    if x.shape[1] % 4:
        raise InputError(f"{features}: {x.shape[1]} features is not a STAT descriptor (4 x D)")
    dim = x.shape[1] // 4
    xs = x[:, dim:2 * dim]
    mean, scale = _scaler(xs)
    z = (xs - mean) / scale
    model = Ridge(alpha=alpha).fit(z, y)
    summary = {"rows": len(y), "alpha": alpha}
    folds = min(5, len(y))
    if folds >= 2:
        pred = np.clip(cross_val_predict(Ridge(alpha=alpha), z, y, cv=folds), 0, 1)
        summary["cv_mae"] = float(np.mean(np.abs(pred - y)))
        summary["cv_level_accuracy"] = float(np.mean(
            [engagement_level(a) == engagement_level(b) for a, b in zip(pred, y)]))
    info = {"trained": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "features": str(features), "labels": str(labels), **summary}
    out = Path(out)
    write_json(out, {"kind": "engagement-ridge", "dim": dim, "mean": mean.tolist(),
                     "scale": scale.tolist(), "coef": model.coef_.tolist(),
                     "intercept": float(model.intercept_), "info": info})
    _card(out, f"Engagement model {out.name}", [
        "ridge regression on the std part of the STAT descriptor (the seed paper's method)",
        f"features: {features} ({dim}-d emotion features); labels: {labels}",
        f"labelled windows: {len(y)}; alpha {alpha}",
        f"{folds}-fold cross-validated MAE: {summary.get('cv_mae', float('nan')):.3f}, "
        f"level accuracy: {summary.get('cv_level_accuracy', float('nan')):.3f}",
        "valid only with the emotion model whose features it was trained on",
        "engagement from faces is an estimate of visible attention, not of learning",
    ])
    return summary


def train_group_affect(features: str | Path, labels: str | Path, out: str | Path,
                       c: float = 1.0) -> dict:
    """Fit the paper's group-affect classifier (linear SVC on mean + std of the faces).

    Args:
        features: CSV from ``export-features --group``.
        labels: CSV with ``video, start, group_affect`` (e.g. positive/neutral/negative).
        out: the model JSON (a ``.md`` card is written beside it).
        c: SVC regularisation.
    """
    from sklearn.model_selection import cross_val_score
    from sklearn.svm import LinearSVC

    x, y = _read_joined(features, labels, group=True, label_col="group_affect")
    if x.shape[1] % 2:
        raise InputError(f"{features}: {x.shape[1]} features is not mean + std (2 x D)")
    classes = sorted(set(y))
    if len(classes) < 2:
        raise InputError(f"{labels}: needs at least two different labels, got {classes}")
    mean, scale = _scaler(x)
    z = (x - mean) / scale
    model = LinearSVC(C=c, max_iter=20000).fit(z, y)
    summary = {"rows": len(y), "classes": classes, "C": c}
    counts = [y.count(k) for k in classes]
    folds = min(5, min(counts))
    if folds >= 2:
        summary["cv_accuracy"] = float(np.mean(cross_val_score(
            LinearSVC(C=c, max_iter=20000), z, y, cv=folds)))
    info = {"trained": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "features": str(features), "labels": str(labels), **summary}
    out = Path(out)
    write_json(out, {"kind": "group-affect-linear-svc", "dim": x.shape[1] // 2,
                     "classes": [str(k) for k in model.classes_], "mean": mean.tolist(),
                     "scale": scale.tolist(), "coef": model.coef_.tolist(),
                     "intercept": model.intercept_.tolist(), "info": info})
    _card(out, f"Group-affect model {out.name}", [
        "linear SVC on the mean and std of the visible faces' emotion features per window "
        "(the seed paper's method)",
        f"features: {features}; labels: {labels}",
        f"labelled windows: {len(y)}; classes {classes}; C {c}",
        f"{folds}-fold cross-validated accuracy: {summary.get('cv_accuracy', float('nan')):.3f}",
        "valid only with the emotion model whose features it was trained on",
    ])
    return summary
