import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner

from lecturelens.cli import cli
from lecturelens.course import load_lecture, match_lectures, write_course_view
from lecturelens.errors import InputError
from lecturelens.reportfiles import STUDENT_COLUMNS
from lecturelens.reportfiles import STUDENT_EMBEDDINGS as STUDENT_EMBEDDINGS_FILE


def _report(dir_, students, model="dlib-resnet"):
    """A report folder with students.csv, embeddings and run.json, as analyze writes them."""
    dir_.mkdir(parents=True)
    with open(dir_ / "students.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(STUDENT_COLUMNS)
        for sid, name, ocr, _ in students:
            w.writerow([sid, name, "0.9" if ocr else "0", ocr, "", "30.0", "0.0", "0.000",
                        "29.000", 1, "1"])
    emb = np.stack([e if e is not None else np.full(128, np.nan) for *_, e in students])
    np.save(dir_ / STUDENT_EMBEDDINGS_FILE, emb.astype(np.float32))
    (dir_ / "run.json").write_text(json.dumps(
        {"models": [{"name": model, "task": "face-identity"}]}))
    return dir_


@pytest.fixture
def faces():
    rng = np.random.default_rng(1)
    return [v / np.linalg.norm(v) for v in rng.normal(size=(4, 128))]


def test_match_by_name_and_by_face(tmp_path, faces):
    a = _report(tmp_path / "lec1", [("S01", "Ana García", "Ana García", faces[0]),
                                    ("S02", "Ben Okafor", "Ben Okafor", faces[1]),
                                    ("S03", "Unknown 1", "", faces[2])])
    # Lecture 2: other order and ids; Ana's label misread, Ben unnamed (label never read),
    # the unknown student now named; a newcomer.
    b = _report(tmp_path / "lec2", [("S01", "Unknown 1", "", faces[1] + 0.01),
                                    ("S02", "Chloé Martin", "Chloé Martin", faces[2] + 0.01),
                                    ("S03", "Ana Garcla", "Ana Garcla", faces[0] + 0.01),
                                    ("S04", "Dmitri Ivanov", "Dmitri Ivanov", faces[3])])
    course = match_lectures([load_lecture(a), load_lecture(b)])
    by_ids = {tuple(sorted(c.ids.items())): c.name for c in course}
    assert by_ids == {
        (("lec1", "S01"), ("lec2", "S03")): "Ana García",
        (("lec1", "S02"), ("lec2", "S01")): "Ben Okafor",
        (("lec1", "S03"), ("lec2", "S02")): "Chloé Martin",
        (("lec2", "S04"),): "Dmitri Ivanov",
    }


def test_different_names_never_link_even_with_one_face(tmp_path, faces):
    # A twin (or a mirrored camera): the same face, two names.
    a = _report(tmp_path / "lec1", [("S01", "Ana García", "Ana García", faces[0])])
    b = _report(tmp_path / "lec2", [("S01", "Maya Cohen", "Maya Cohen", faces[0])])
    course = match_lectures([load_lecture(a), load_lecture(b)])
    assert len(course) == 2


def test_one_lecture_student_per_course_student(tmp_path, faces):
    a = _report(tmp_path / "lec1", [("S01", "Unknown 1", "", faces[0])])
    b = _report(tmp_path / "lec2", [("S01", "Unknown 1", "", faces[0]),
                                    ("S02", "Unknown 2", "", faces[0] + 0.02)])
    course = match_lectures([load_lecture(a), load_lecture(b)])
    assert len(course) == 2 and course[0].ids == {"lec1": "S01", "lec2": "S01"}


def test_roster_files_and_cli(tmp_path, faces):
    a = _report(tmp_path / "lec1", [("S01", "Ana García", "Ana García", faces[0])])
    b = _report(tmp_path / "lec2", [("S07", "Ana García", "Ana García", faces[0])])
    res = CliRunner().invoke(cli, ["people", "match", str(a), str(b), "-o", str(tmp_path / "c")])
    assert res.exit_code == 0, res.output
    assert "1 students over 2 lectures (1 seen in more than one)" in res.output
    rows = list(csv.DictReader(open(tmp_path / "c" / "course_roster.csv", encoding="utf-8")))
    assert rows == [{"course_id": "C001", "name": "Ana García", "lectures": "2",
                     "lec1": "S01", "lec2": "S07"}]
    assert json.loads((tmp_path / "c" / "course_roster.json").read_text())["students"][0][
        "ids"] == {"lec1": "S01", "lec2": "S07"}


def test_bad_report_folders(tmp_path, faces):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no students.csv"):
        load_lecture(tmp_path / "empty")
    a = _report(tmp_path / "a", [("S01", "Ana", "Ana", faces[0])], model="dlib-resnet")
    b = _report(tmp_path / "b", [("S01", "Ana", "Ana", faces[0])], model="vggface2")
    with pytest.raises(InputError, match="different identity models"):
        match_lectures([load_lecture(a), load_lecture(b)])
    res = CliRunner().invoke(cli, ["people", "match", str(tmp_path / "empty"), "-o",
                                   str(tmp_path / "c")])
    assert res.exit_code == 2 and "no students.csv" in res.output
    assert not (tmp_path / "c" / "course_roster.csv").exists()


@pytest.mark.slow
def test_same_class_two_recordings_different_tile_order(tmp_path, shared_videos):
    """Real faces: one class in two lectures with another tile order; each person links."""
    from lecturelens.dev.compose import compose_gallery, load_truth
    from lecturelens.config import AnalyzeConfig
    from lecturelens.dev.evaluate import evaluate_people
    from lecturelens.pipeline import analyze

    lectures = []
    for k in range(2):
        video = tmp_path / f"lecture{k + 1}.mp4"
        compose_gallery(video, rows=3, cols=4, duration=12, fps=5, seed=k + 3,
                        shuffle_start=True, reshuffle=[6.0])
        analyze(video, tmp_path / "reports", AnalyzeConfig(fps=1.0), progress=False)
        lectures.append((video, tmp_path / "reports" / video.stem))
    orders = [[t["person"] for t in load_truth(v)["segments"][0]["tiles"]] for v, _ in lectures]
    assert orders[0] != orders[1]
    course = match_lectures([load_lecture(d) for _, d in lectures])
    # person -> course id, through each lecture's evaluation (person -> student id)
    linked = 0
    people = [evaluate_people(d, load_truth(v))["people"] for v, d in lectures]
    for pid in people[0]:
        ids = [people[k][pid]["student_id"] for k in range(2)]
        cid = [c.course_id for c in course if c.ids.get(lectures[0][1].name) == ids[0]]
        linked += bool(cid) and next(c for c in course if c.course_id == cid[0]).ids.get(
            lectures[1][1].name) == ids[1]
    assert linked / len(people[0]) >= 0.95
    assert len(course) == len(people[0])


def test_course_view_trends_and_index(tmp_path, faces):
    a = _report(tmp_path / "lec1", [("S01", "Ana García", "Ana García", faces[0]),
                                    ("S02", "Ben Okafor", "Ben Okafor", faces[1])])
    b = _report(tmp_path / "lec2", [("S03", "Ana García", "Ana García", faces[0])])
    # The report stage's columns and windows for lecture 1 only; lecture 2 has none yet.
    rows = list(csv.DictReader(open(a / "students.csv", encoding="utf-8")))
    with open(a / "students.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, list(rows[0]) + ["mean_engagement", "dominant_emotion"])
        w.writeheader()
        for r, eng in zip(rows, ("0.800", "0.400")):
            w.writerow({**r, "mean_engagement": eng, "dominant_emotion": "happy"})
    with open(a / "windows.csv", "w", newline="", encoding="utf-8") as fh:
        fh.write("student_id,start,end,state,valence\nS01,0,8,ok,0.5\nS01,8,16,ok,0.1\n"
                 "S01,16,24,camera_off,\nS02,0,8,insufficient,\n")
    lectures = [load_lecture(a), load_lecture(b)]
    course = match_lectures(lectures)
    view = write_course_view(tmp_path / "c", lectures, course,
                             failed=[("bad.mp4", "file is empty (0 bytes)")])
    assert view["lectures"] == 2 and view["students"] == 2
    trends = list(csv.DictReader(open(tmp_path / "c" / "trends.csv", encoding="utf-8")))
    ana = [t for t in trends if t["name"] == "Ana García"]
    ben = [t for t in trends if t["name"] == "Ben Okafor"]
    assert [t["student_id"] for t in ana] == ["S01", "S03"]
    assert ana[0]["mean_engagement"] == "0.800" and ana[0]["mean_valence"] == "0.300"
    assert [t["attended"] for t in ben] == ["yes", "no"] and ben[0]["mean_valence"] == ""
    html = (tmp_path / "c" / "index.html").read_text(encoding="utf-8")
    assert 'href="../lec1/report.html"' in html and 'href="../lec2/report.html"' in html
    assert "bad.mp4: file is empty" in html and "not a measure of learning" in html
    assert (tmp_path / "c" / "trends.png").stat().st_size > 1000
    assert sorted(p.name for p in (tmp_path / "c" / "students").iterdir()) == ["C001.png",
                                                                               "C002.png"]
