"""Reports: windows.csv, group.csv, plots, GIFs, report.html and the opt-out."""

from __future__ import annotations

import csv
import json
import re
import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from lecturelens.cli import cli
from lecturelens.dev.compose import load_truth
from lecturelens.config import AnalyzeConfig
from lecturelens.pipeline import analyze
from lecturelens.report import CAUTION, key_moments
from lecturelens.reportfiles import GROUP_COLUMNS, window_columns


def _rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def astro_report(tmp_path_factory, astronaut_gallery):
    """The astronaut 2x2 gallery analysed once, with a GIF for every emotion moment."""
    out = tmp_path_factory.mktemp("report")
    analyze(astronaut_gallery, out, AnalyzeConfig(fps=2.0, window=5.0, gifs="all",
                                                   gif_seconds=1.5), progress=False)
    return out / "astro_2x2"


def test_report_files_and_their_content(astro_report, astronaut_gallery, check_gifs):
    dest = astro_report
    run = json.loads((dest / "run.json").read_text())
    assert run["status"] == "ok"
    assert run["reports"]["windows"] == 1 and run["reports"]["gifs"] >= 1
    windows = _rows(dest / "windows.csv")
    classes = next(m for m in run["models"] if m["task"] == "emotion")["classes"]
    assert list(windows[0]) == window_columns(classes)
    assert len(windows) == 4 and all(w["state"] == "ok" for w in windows)
    for w in windows:
        assert 0 <= float(w["engagement"]) <= 1 and w["level"] in ("0.0", "0.33", "0.66", "1.0")
        assert float(w["face_visible"]) == 1.0 and float(w["attending"]) >= 0.5
    group = _rows(dest / "group.csv")
    assert list(group[0]) == GROUP_COLUMNS and len(group) == 1
    assert group[0]["students_visible"] == "4"
    assert group[0]["group_affect"] in ("positive", "neutral", "negative")
    students = _rows(dest / "students.csv")
    assert all(s["dominant_emotion"] and s["mean_engagement"] for s in students)
    assert np.load(dest / "window_features.npy").shape[0] == 4
    for png in [dest / "timeline.png"] + [dest / "students" / f"{s['student_id']}.png"
                                          for s in students]:
        with Image.open(png) as im:
            assert im.format == "PNG" and im.size[0] > 500
    html = (dest / "report.html").read_text(encoding="utf-8")
    assert CAUTION.split(".")[0] in html
    assert html.count("data:image/gif;base64,") == run["reports"]["gifs"]
    assert html.count("data:image/png;base64,") == 1 + len(students)
    assert "src=\"gifs/" not in html and "http" not in html.split("<body>")[1]
    for s in students:
        assert s["name"] in html
    assert "dlib-landmarks68" in html and "non-commercial" in html
    check_gifs(dest, load_truth(astronaut_gallery))


def test_report_command_rebuilds_and_opt_out_removes_a_student_everywhere(
        tmp_path, astro_report):
    dest = tmp_path / "astro_2x2"
    shutil.copytree(astro_report, dest)
    students = _rows(dest / "students.csv")
    gone = students[1]
    r = CliRunner().invoke(cli, ["report", str(dest), "--exclude", gone["name"], "-q"])
    assert r.exit_code == 0, r.output
    _assert_removed(dest, gone, remaining=3)


def _assert_removed(dest, gone, remaining):
    sid, name = gone["student_id"], gone["name"]
    for f in ("observations.csv", "tracks.csv", "students.csv", "windows.csv"):
        rows = _rows(dest / f)
        assert rows and all(r.get("student_id") != sid for r in rows), f
    for f in dest.rglob("*"):
        if f.is_file() and f.suffix in (".csv", ".html", ".json", ".md"):
            # (embedded images are base64: any three letters turn up in them by chance)
            text = re.sub(r"base64,[A-Za-z0-9+/=]+", "", f.read_text(encoding="utf-8"))
            assert name not in text, f
            assert name.split()[0] not in text, f
    assert len(_rows(dest / "students.csv")) == remaining
    assert np.load(dest / "student_embeddings.npy").shape[0] == remaining
    obs = _rows(dest / "observations.csv")
    assert np.load(dest / "emotion_features.npy").shape[0] == len(obs)
    assert not any(p.name.startswith(sid) for p in (dest / "gifs").glob("*"))
    assert not (dest / "students" / f"{sid}.png").exists()
    assert int(_rows(dest / "group.csv")[0]["students_visible"]) == remaining


def test_analyze_with_exclude(tmp_path, astronaut_gallery):
    truth = load_truth(astronaut_gallery)
    names = [p["name"] for p in truth["people"]]
    name = names[2]
    # A roster with a case-only duplicate, a NUL byte and an absent student who opted out.
    roster = tmp_path / "roster.csv"
    roster.write_text("name\n" + "\n".join(names) + "\nFarid Haddad\nfarid HADDAD\nZo\x00e Kim\n",
                      encoding="utf-8")
    record = analyze(astronaut_gallery, tmp_path,
                     AnalyzeConfig(fps=1.0, window=5.0, exclude=(name, "Farid Haddad"),
                                   identity_model="none", gifs="all", roster=str(roster)),
                     progress=False)
    dest = tmp_path / "astro_2x2"
    assert record["excluded_students"] == 2 and record["students"] == 3
    run = json.loads((dest / "run.json").read_text())
    assert run["config"]["exclude"] == "(2 names)"
    assert run["roster_absent"] == ["Zoe Kim"]  # cleaned, once, and without Farid
    assert [r["name"] for r in _rows(dest / "roster.csv")] == \
        [n for n in names if n != name] + ["Zoe Kim"]
    _assert_removed(dest, {"student_id": "none", "name": name}, remaining=3)
    for f in dest.rglob("*"):
        assert "Farid" not in f.name and "\x00" not in f.name
        if f.suffix in (".csv", ".json"):
            assert "Farid" not in f.read_text(encoding="utf-8") and "\x00" not in f.read_text()


def test_analyze_exclusion_that_matches_nobody_writes_nothing(tmp_path, astronaut_gallery):
    from lecturelens.optout import ExclusionError

    with pytest.raises(ExclusionError, match="'Benjamin Okafr' matches no student.*did you "
                                             "mean 'Ben Okafor'"):
        analyze(astronaut_gallery, tmp_path,
                AnalyzeConfig(fps=1.0, exclude=("Benjamin Okafr",), gifs="none"),
                progress=False)
    dest = tmp_path / "astro_2x2"
    assert sorted(p.name for p in dest.iterdir()) == ["run.json"]
    run = json.loads((dest / "run.json").read_text())
    assert run["status"] == "failed" and "matched no student" in run["error"]
    assert "Okaf" not in json.dumps(run)


def test_report_opt_out_by_name_in_either_order_by_id_and_by_photo(tmp_path, astro_report,
                                                                  astronaut_gallery):
    import cv2

    dest = tmp_path / "astro_2x2"
    shutil.copytree(astro_report, dest)
    students = _rows(dest / "students.csv")
    first, last = students[1]["name"].split(" ", 1)
    r = CliRunner().invoke(cli, ["report", str(dest), "-q", "--gifs", "none",
                                 "--exclude", f"{last}, {first}", "--exclude", "s04"])
    assert r.exit_code == 0, r.output
    assert [s["student_id"] for s in _rows(dest / "students.csv")] == ["S01", "S03"]
    assert json.loads((dest / "run.json").read_text())["excluded_students"] == 2
    # A photo of a face nobody has: an error naming it; a photo without a face: too.
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((200, 200, 3), 128, np.uint8))
    r = CliRunner().invoke(cli, ["report", str(dest), "-q", "--exclude-face", str(blank)])
    assert r.exit_code == 2 and "no face found" in r.output, r.output
    # The astronaut's face (every tile shows her) is matched with the run's identity model.
    cap = cv2.VideoCapture(str(astronaut_gallery))
    ok, frame = cap.read()
    cap.release()
    photo = tmp_path / "astronaut.jpg"
    cv2.imwrite(str(photo), frame[:180, :320])
    r = CliRunner().invoke(cli, ["report", str(dest), "-q", "--gifs", "none",
                                 "--exclude-face", str(photo)])
    assert r.exit_code == 0, r.output
    assert _rows(dest / "students.csv") == [] and (dest / "report.html").is_file()
    assert json.loads((dest / "run.json").read_text())["excluded_students"] == 4


def test_key_moments_are_apart_and_on_the_right_side_of_the_median():
    g = [{"start": 8.0 * i, "end": 8.0 * i + 8, "mean_engagement": e, "mean_valence": 0.0,
          "students_visible": 10, "group_affect": "neutral"}
         for i, e in enumerate([0.5, 0.9, 0.88, 0.5, 0.5, 0.1, 0.12, 0.5, 0.5, 0.5, 0.5])]
    m = key_moments(g)
    # Two marks each at most for 11 windows; the runner-up next door is skipped.
    assert [x["start"] for x in m["engaging"]] == [8.0]
    assert [x["start"] for x in m["difficult"]] == [40.0]
    assert key_moments(g[:2]) == {"engaging": [], "difficult": []}


def test_report_on_a_missing_folder_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    r = CliRunner().invoke(cli, ["report", str(tmp_path / "empty")])
    assert r.exit_code != 0 and "run.json" in r.output


def test_report_rebuild_keeps_the_original_runs_settings(tmp_path, astro_report):
    dest = tmp_path / "astro_2x2"
    shutil.copytree(astro_report, dest)
    r = CliRunner().invoke(cli, ["report", str(dest), "-q", "--gif-max-per-student", "1"])
    assert r.exit_code == 0, r.output
    gifs = _rows(dest / "gifs.csv")
    assert gifs  # --gifs all and --gif-seconds 1.5 came from the original run
    assert all(float(g["end"]) - float(g["start"]) <= 1.5 + 1e-6 for g in gifs)
    per_student = [g["student_id"] for g in gifs]
    assert len(per_student) == len(set(per_student))


def test_report_on_a_truncated_observations_file_is_a_clear_error(tmp_path, astro_report):
    dest = tmp_path / "astro_2x2"
    shutil.copytree(astro_report, dest)
    text = (dest / "observations.csv").read_text(encoding="utf-8")
    (dest / "observations.csv").write_text(text[:len(text) // 2], encoding="utf-8")
    r = CliRunner().invoke(cli, ["report", str(dest), "-q", "--gifs", "none"])
    assert r.exit_code == 2, r.output
    assert "observations.csv" in r.output and "re-run" in r.output
    assert "internal error" not in r.output
