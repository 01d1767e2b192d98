"""The seed papers' classifiers fitted on a user's labelled windows."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner

from lecturelens.cli import cli
from lecturelens.engagement import (EngagementModel, GroupAffectModel, load_model,
                                    train_engagement, train_group_affect)
from lecturelens.errors import InputError

DIM = 6


def _write(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture
def engagement_data(tmp_path):
    """STAT descriptors whose std part determines the engagement label."""
    rng = np.random.default_rng(0)
    n = 120
    x = rng.normal(size=(n, 4 * DIM))
    y = np.clip(0.5 + 0.25 * x[:, DIM] - 0.2 * x[:, DIM + 1], 0, 1)
    feats = _write(tmp_path / "features.csv",
                   ["video", "student_id", "name", "start", "end"]
                   + [f"f{i}" for i in range(4 * DIM)],
                   [["lec1", f"S{i % 10:02d}", "x", f"{8.0 * (i // 10):.1f}", "0"] + list(r)
                    for i, r in enumerate(x)])
    labels = _write(tmp_path / "labels.csv", ["video", "student_id", "start", "engagement"],
                    [["lec1", f"S{i % 10:02d}", f"{8.0 * (i // 10):.1f}", f"{v:.3f}"]
                     for i, v in enumerate(y)])
    return feats, labels, x, y


@pytest.fixture
def group_data(tmp_path):
    rng = np.random.default_rng(1)
    classes = ["negative", "neutral", "positive"]
    xs, ys = [], []
    for k, c in enumerate(classes):
        centre = np.zeros(2 * DIM)
        centre[k] = 4.0
        xs.append(rng.normal(size=(30, 2 * DIM)) + centre)
        ys += [c] * 30
    x = np.concatenate(xs)
    feats = _write(tmp_path / "gfeatures.csv", ["video", "start", "end"]
                   + [f"f{i}" for i in range(2 * DIM)],
                   [["lec1", f"{8.0 * i:.1f}", "0"] + list(r) for i, r in enumerate(x)])
    labels = _write(tmp_path / "glabels.csv", ["video", "start", "group_affect"],
                    [["lec1", f"{8.0 * i:.1f}", c] for i, c in enumerate(ys)])
    return feats, labels, x, ys


def test_engagement_ridge_learns_from_the_std_descriptor(tmp_path, engagement_data):
    feats, labels, x, y = engagement_data
    out = tmp_path / "eng.json"
    summary = train_engagement(feats, labels, out)
    assert summary["rows"] == 120
    assert summary["cv_mae"] < 0.05
    assert out.with_suffix(".md").read_text().startswith("# Engagement model")
    model = load_model(out)
    assert isinstance(model, EngagementModel) and model.dim == DIM
    pred = model.predict(x)
    assert np.mean(np.abs(pred - y)) < 0.05
    assert pred.min() >= 0 and pred.max() <= 1
    assert json.loads(out.read_text())["kind"] == "engagement-ridge"


def test_engagement_levels_are_accepted_as_labels(tmp_path, engagement_data):
    feats, _, x, y = engagement_data
    labels = _write(tmp_path / "levels.csv", ["video", "student_id", "start", "engagement"],
                    [["lec1", f"S{i % 10:02d}", f"{8.0 * (i // 10):.1f}",
                      str(int(np.argmin(np.abs(np.array([0, .33, .66, 1]) - v))))]
                     for i, v in enumerate(y)])
    assert train_engagement(feats, labels, tmp_path / "m.json")["rows"] == 120


def test_group_affect_svc(tmp_path, group_data):
    feats, labels, x, ys = group_data
    out = tmp_path / "group.json"
    summary = train_group_affect(feats, labels, out)
    assert summary["cv_accuracy"] > 0.9
    model = load_model(out)
    assert isinstance(model, GroupAffectModel)
    scores = model.scores(x)
    assert all(sum(s.values()) == pytest.approx(1.0) for s in scores)
    acc = np.mean([max(s, key=s.get) == y for s, y in zip(scores, ys)])
    assert acc > 0.9


def test_trained_engagement_model_drives_the_windows(tmp_path, engagement_data):
    from lecturelens.windows import Observations, StudentInfo, compute_windows

    feats, labels, *_ = engagement_data
    train_engagement(feats, labels, tmp_path / "eng.json")
    model = load_model(tmp_path / "eng.json")
    n = 8
    rng = np.random.default_rng(3)
    obs = Observations(t=np.arange(n, dtype=float), frame=np.arange(n),
                       track_id=np.ones(n, int), student_id=np.array(["S01"] * n, object),
                       box=np.tile([0, 0, 50, 50], (n, 1)).astype(float),
                       usable=np.ones(n, bool), yaw=np.zeros(n), pitch=np.zeros(n),
                       ear=np.full(n, 0.3), probs=np.full((n, 7), 1 / 7, np.float32),
                       classes=("angry", "disgust", "fear", "happy", "neutral", "sad",
                                "surprise"),
                       features=rng.normal(size=(n, DIM)).astype(np.float32))
    res = compute_windows(obs, [StudentInfo("S01", "Ana", 0, 7)], 8, 1,
                          engagement_model=model)
    # The model sees the float32 descriptor; res.descriptors holds it in float16 (as the
    # file does), hence the tolerance.
    expected = float(model.predict(res.descriptors.astype(np.float32))[0])
    assert res.rows[0]["engagement"] == pytest.approx(expected, abs=2e-3)


def test_bad_inputs_say_what_is_wrong(tmp_path, engagement_data):
    feats, labels, *_ = engagement_data
    bad = _write(tmp_path / "bad.csv", ["video", "start", "label"], [["lec1", "0.0", "1"]])
    with pytest.raises(InputError, match="needs columns"):
        train_engagement(feats, bad, tmp_path / "m.json")
    with pytest.raises(InputError, match="not found"):
        train_engagement(tmp_path / "missing.csv", labels, tmp_path / "m.json")
    (tmp_path / "junk.json").write_text("{}")
    with pytest.raises(InputError, match="not a LectureLens"):
        load_model(tmp_path / "junk.json")
    other = _write(tmp_path / "other.csv", ["video", "student_id", "start", "engagement"],
                   [["lec9", "S01", "0.0", "0.5"]])
    with pytest.raises(InputError, match="only 0 labelled rows"):
        train_engagement(feats, other, tmp_path / "m.json")


def test_model_trained_on_other_features_is_refused(tmp_path, engagement_data):
    feats, labels, x, _ = engagement_data
    train_engagement(feats, labels, tmp_path / "eng.json")
    with pytest.raises(InputError, match="different emotion model"):
        load_model(tmp_path / "eng.json").predict(x[:, :8])


def test_cli_train_commands(tmp_path, engagement_data, group_data):
    feats, labels, *_ = engagement_data
    r = CliRunner().invoke(cli, ["train-engagement", str(feats), str(labels), "-o",
                                 str(tmp_path / "e.json")])
    assert r.exit_code == 0, r.output
    assert "cross-validated MAE" in r.output
    gf, gl, *_ = group_data
    r = CliRunner().invoke(cli, ["train-group-affect", str(gf), str(gl), "-o",
                                 str(tmp_path / "g.json")])
    assert r.exit_code == 0, r.output
    assert "negative, neutral, positive" in r.output
    r = CliRunner().invoke(cli, ["train-engagement", str(tmp_path / "nope.csv"), str(labels)])
    assert r.exit_code != 0 and "nope.csv" in r.output
