"""evaluate_detection on truths with camera-off tiles, absences and a screen share;
adjusted_rand_index and evaluate_people on hand-made reports."""

import csv
import json
from pathlib import Path

import pytest

from lecturelens.dev.compose import compose_gallery, tile_at
from lecturelens.dev.evaluate import adjusted_rand_index, evaluate_detection, evaluate_people


@pytest.fixture(scope="module")
def hard_truth(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("eval") / "g.mp4"
    return compose_gallery(out, rows=2, cols=2, duration=6.0, fps=2, width=320, height=180,
                           data_root=Path("/nonexistent"), camera_off=[(0, 0.0, 2.5)],
                           absent=[(1, 1.5, 3.5)], screen_share=[(4.0, 5.0)], strip_tiles=2)


def _report(tmp_path: Path, truth: dict, times: list[float], sampled: int, extra=()) -> Path:
    """A report with one face at the centre of every camera-on tile at each time."""
    rows, ids = [], {}
    for t in times:
        for tile in tile_at(truth, t):
            if tile["video_rect"] is None:
                continue
            x, y, w, h = tile["video_rect"]
            track = ids.setdefault(tile["person"], len(ids))
            rows.append({"t": t, "frame": int(t * 2), "track_id": track,
                         "x1": x + w / 4, "y1": y + h / 4, "x2": x + 3 * w / 4,
                         "y2": y + 3 * h / 4})
    rows += list(extra)
    with open(tmp_path / "observations.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, ["t", "frame", "track_id", "student_id", "x1", "y1", "x2", "y2"])
        w.writeheader()
        w.writerows(rows)
    (tmp_path / "run.json").write_text(json.dumps({"frames_sampled": sampled,
                                                   "config": {"fps": 1.0}}))
    return tmp_path


def test_camera_off_tiles_are_not_misses(tmp_path, hard_truth):
    times = [float(t) for t in range(6)]
    ev = evaluate_detection(_report(tmp_path, hard_truth, times, 6), hard_truth)
    assert ev["frames"] == 6 and ev["recall"] == 1.0 and ev["missed"] == []
    assert ev["false_positives"] == 0
    counts = [sum(t["video_rect"] is not None for t in tile_at(hard_truth, s)) for s in times]
    assert counts == [3, 3, 2, 3, 2, 4]  # off, off, off+absent, absent, 2-tile strip, all back


def test_face_in_camera_off_tile_is_a_false_positive(tmp_path, hard_truth):
    off = next(t for t in tile_at(hard_truth, 0.0) if t["camera"] == "off")
    x, y, w, h = off["rect"]
    extra = [{"t": 0.0, "frame": 0, "track_id": 5000, "x1": x + 10, "y1": y + 10,
              "x2": x + 30, "y2": y + 30}]
    ev = evaluate_detection(_report(tmp_path, hard_truth, [0.0, 1.0], 2, extra), hard_truth)
    assert ev["false_positives"] == 1 and ev["recall"] == 1.0


def test_empty_frames_count_their_own_segment_tiles(tmp_path, hard_truth):
    # nothing found at 2 s (2 camera-on tiles) and 4 s (2 strip tiles)
    ev = evaluate_detection(_report(tmp_path, hard_truth, [0.0, 1.0, 3.0, 5.0], 6),
                            hard_truth)
    assert ev["frames"] == 6
    assert sorted({t for t, _ in ev["missed"]}) == [2.0, 4.0] and len(ev["missed"]) == 4
    assert ev["recall"] == pytest.approx(13 / 17)


# ---------------------------------------------------------------- who is who


@pytest.mark.parametrize("true, pred", [
    ([0, 0, 1, 1, 2], ["b", "b", "a", "a", "c"]),
    (["x", "y", "z"], [3, 2, 1]),
    ([0, 0, 0], [1, 1, 1]),  # one group each
    ([0], [5]),  # a single item
])
def test_ari_identical_partitions_up_to_renaming(true, pred):
    assert adjusted_rand_index(true, pred) == pytest.approx(1.0)


@pytest.mark.parametrize("true, pred, expected", [
    # contingency [[2,0,0],[0,1,1]]: index 1, rows 2, columns 1, pairs 6 -> (1-1/3)/(3/2-1/3)
    ([0, 0, 1, 1], [0, 0, 1, 2], 4 / 7),
    # [[2,1,0],[0,1,2]]: index 2, rows 6, columns 3, pairs 15 -> (2-1.2)/(4.5-1.2)
    ([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2], 0.8 / 3.3),
    # [[1,1],[1,1]]: worse than chance
    ([0, 0, 1, 1], [0, 1, 0, 1], -0.5),
])
def test_ari_hand_computed(true, pred, expected):
    assert adjusted_rand_index(true, pred) == pytest.approx(expected)
    assert adjusted_rand_index(pred, true) == pytest.approx(expected)  # symmetric


def test_ari_all_in_one_against_all_separate_is_chance():
    n = 12
    assert adjusted_rand_index([0] * n, list(range(n))) == pytest.approx(0.0, abs=1e-9)
    assert adjusted_rand_index(list(range(n)), ["s"] * n) == pytest.approx(0.0, abs=1e-9)


def test_ari_lengths_must_match():
    with pytest.raises(ValueError, match="differ in length"):
        adjusted_rand_index([0, 1], [0])


def test_evaluate_people_perfect_report(people_report, people_truth):
    ev = evaluate_people(people_report, people_truth)
    assert ev["ari"] == 1.0 and ev["faces"] == 20
    assert ev["students_found"] == ev["students_true"] == 3
    assert ev["exact_names"] == 1.0
    assert ev["people"] == {
        "ana": {"name": "Ana García", "student_id": "S01", "student_name": "Ana García",
                "exact": True},
        "ben": {"name": "Ben Okafor", "student_id": "S02", "student_name": "Ben Okafor",
                "exact": True},
        # never on camera: found by the name of a student
        "lea": {"name": "Léa Dubois", "student_id": "S03", "student_name": "Léa Dubois",
                "exact": True},
    }


def test_evaluate_people_split_student_and_wrong_names(tmp_path, people_truth,
                                                      write_people_report):
    faces = [(float(t), 1, "S01", 0) for t in range(10)]
    faces += [(float(t), 2 if t < 6 else 3, "S02" if t < 6 else "S04", 110) for t in range(10)]
    faces += [(0.0, 9, "S05", 230), (1.0, 9, "S05", 500)]  # in the camera-off tile, nowhere
    report = write_people_report(tmp_path / "r", faces, [
        ("S01", "Ana Garcia"),  # accent lost
        ("S02", "Ben Okafor"), ("S03", "Le\u0301a Dubois"),  # decomposed: still exact
        ("S04", "Unknown 1"), ("S05", "Unknown 2")])
    ev = evaluate_people(report, people_truth)
    # contingency [[10,0,0],[0,6,4]]: index 45+15+6, rows 90, columns 66, pairs 190
    expected = 90 * 66 / 190
    assert ev["ari"] == pytest.approx((66 - expected) / ((90 + 66) / 2 - expected), abs=1e-4)
    assert ev["faces"] == 20  # faces outside the camera-on video areas do not count
    assert ev["students_found"] == 5 and ev["students_true"] == 3
    assert ev["exact_names"] == pytest.approx(2 / 3, abs=1e-4)
    assert ev["people"]["ana"]["exact"] is False
    assert ev["people"]["ana"]["student_name"] == "Ana Garcia"
    assert ev["people"]["ben"]["student_id"] == "S02"  # the student most faces got
    assert ev["people"]["lea"] == {"name": "Léa Dubois", "student_id": "S03",
                                   "student_name": "Léa Dubois", "exact": True}


def test_evaluate_people_merged_people_and_missing_student(tmp_path, people_truth,
                                                          write_people_report):
    faces = [(float(t), 1, "S01", 0) for t in range(10)]
    faces += [(float(t), 2, "S01", 110) for t in range(10)]  # Ana and Ben as one student
    report = write_people_report(tmp_path / "r", faces, [("S01", "Ana García")])
    ev = evaluate_people(report, people_truth)
    assert ev["ari"] == pytest.approx(0.0, abs=1e-9)
    assert ev["students_found"] == 1 and ev["students_true"] == 3
    assert ev["people"]["ben"]["student_id"] == "S01" and not ev["people"]["ben"]["exact"]
    assert ev["people"]["lea"] == {"name": "Léa Dubois", "student_id": "", "student_name": "",
                                   "exact": False}
    assert ev["exact_names"] == pytest.approx(1 / 3, abs=1e-4)


def test_evaluate_people_needs_a_report_folder(tmp_path, people_truth, people_report):
    from lecturelens.errors import InputError

    (people_report / "students.csv").unlink()
    with pytest.raises(InputError, match=r"report: no students\.csv; expected a report folder"):
        evaluate_people(people_report, people_truth)
    with pytest.raises(InputError, match=r"no students\.csv"):
        evaluate_people(tmp_path / "nowhere", people_truth)


# ---------------------------------------------------------------- names as printed and read

from lecturelens.dev.evaluate import (  # noqa: E402
    close_key, evaluate_names, printed_labels, students_of_people, ui_text_students,
)

# Ana: a student ID before her name, cut in a small tile for half the time; Ben: (Host)
# after his; Léa: camera off all along (a label but no face).
NAMES_TRUTH = {
    "duration": 10.0,
    "people": [{"person_id": "ana", "name": "Ana García", "label": "20200759 Ana García"},
               {"person_id": "ben", "name": "Ben Okafor", "label": "Ben Okafor (Host)"},
               {"person_id": "lea", "name": "Léa Dubois", "label": "Léa Dubois"}],
    "segments": [
        {"start": 0.0, "end": 6.0, "layout": "gallery", "absent": [], "tiles": [
            {"tile": 0, "rect": [0, 0, 100, 100], "video_rect": [0, 0, 100, 100],
             "person": "ana", "name": "Ana García", "label": "20200759 Ana García",
             "camera": "on"},
            {"tile": 1, "rect": [110, 0, 100, 100], "video_rect": [110, 0, 100, 100],
             "person": "ben", "name": "Ben Okafor", "label": "Ben Okafor (Host)",
             "camera": "on"},
            {"tile": 2, "rect": [220, 0, 100, 100], "video_rect": None,
             "person": "lea", "name": "Léa Dubois", "label": "Léa Dubois", "camera": "off"}]},
        {"start": 6.0, "end": 10.0, "layout": "gallery", "absent": [], "tiles": [
            {"tile": 0, "rect": [0, 0, 100, 100], "video_rect": [0, 0, 100, 100],
             "person": "ana", "name": "Ana García", "label": "20200759 Ana G...",
             "camera": "on"},
            {"tile": 1, "rect": [110, 0, 100, 100], "video_rect": [110, 0, 100, 100],
             "person": "ben", "name": "Ben Okafor", "label": "Ben Okafor (Host)",
             "camera": "on"},
            {"tile": 2, "rect": [220, 0, 100, 100], "video_rect": None,
             "person": "lea", "name": "Léa Dubois", "label": "Léa Dubois",
             "camera": "off"}]}],
}


@pytest.mark.parametrize("a, b", [
    ("20200759 Lee Min", "Lee Min"), ("Kim(20200756)", "kim"), ("Ana García", "ana garcia"),
    ("Ben Okafor (Host)", "BenOkafor"), ("Nguyễn Thị Ph...", "Nguyen Thi Ph"),
    ("(Beginner) Søren Lund", "Soren Lund"), ("Lee_20200759", "lee"),
])
def test_close_key_ignores_decorations(a, b):
    assert close_key(a) == close_key(b)


@pytest.mark.parametrize("a, b", [("Lee Min", "Lee Min-jun"), ("Ana García", "Ana Garcfa"),
                                  ("김민준", "김민주"), ("Иван Петров", "Иван Петрова")])
def test_close_key_keeps_letters(a, b):
    assert close_key(a) != close_key(b)


def test_printed_labels_seconds_per_text():
    assert printed_labels(NAMES_TRUTH) == {
        "ana": {"20200759 Ana García": 6.0, "20200759 Ana G...": 4.0},
        "ben": {"Ben Okafor (Host)": 10.0}, "lea": {"Léa Dubois": 10.0}}
    old = {"segments": [{"start": 0.0, "end": 2.0, "tiles": [
        {"person": "x", "name": "Xu  Ming"}]}]}  # no label keys: the name is printed
    assert printed_labels(old) == {"x": {"Xu Ming": 2.0}}


def test_evaluate_names_exact_close_and_camera_off(tmp_path, write_people_report):
    faces = [(float(t), 1, "S01" if t != 3 else "S09", 0) for t in range(10)]  # majority S01
    faces += [(float(t), 2, "S02", 110) for t in range(10)]
    report = write_people_report(tmp_path / "r", faces, [
        ("S01", "Ana García", "20200759 Ana G..."),   # read as printed (the cut version)
        ("S02", "Ben Okafor", "Ben 0kafor"),           # misread (0 for O), then snapped
        ("S03", "Lea Dubois", "Lea Dubois"),           # camera off: close, name not exact
        ("S09", "Unknown 1", ""),
        ("S10", "Speaker View", "Speaker View")])      # UI text read as a student
    assert students_of_people(report, NAMES_TRUTH) == {"ana": "S01", "ben": "S02"}
    ev = evaluate_names(report, NAMES_TRUTH)
    ana, ben, lea = ev["people"]["ana"], ev["people"]["ben"], ev["people"]["lea"]
    assert ana["labels"] == ["20200759 Ana García", "20200759 Ana G..."]
    assert (ana["label_exact"], ana["label_close"], ana["name_exact"]) == (True, True, True)
    assert (ben["label_exact"], ben["label_close"], ben["name_exact"]) == (False, False, True)
    assert ben["ocr_name"] == "Ben 0kafor" and ben["seen"]
    assert lea["student_id"] == "S03" and not lea["seen"]
    assert (lea["label_exact"], lea["label_close"], lea["name_exact"]) == (False, True, False)
    assert ev["label_exact"] == pytest.approx(1 / 3, abs=1e-4)
    assert ev["label_close"] == pytest.approx(2 / 3, abs=1e-4)
    assert ev["names_exact"] == pytest.approx(2 / 3, abs=1e-4)
    assert (ev["students_found"], ev["students_true"]) == (5, 3)
    assert ev["ui_students"] == []  # the truth lists no screen text
    ev = evaluate_names(report, {**NAMES_TRUTH, "non_names": ["Speaker View", "Leave", "12"]})
    assert ev["ui_students"] == ["Speaker View"]
    assert ui_text_students([{"name": "Soeaker Vew"}, {"name": "Ana"}, {"name": "Lena Weber"}],
                            {"non_names": ["Speaker View", "Leave"]}) == ["Soeaker Vew"]


def test_evaluate_names_decorations_removed_and_nothing_found(tmp_path, write_people_report):
    faces = [(float(t), 1, "S01", 0) for t in range(10)]
    faces += [(float(t), 2, "S02", 110) for t in range(10)]
    report = write_people_report(tmp_path / "r", faces, [
        ("S01", "Ana García", "Ana García"),  # ID dropped by the reader: close, name exact
        ("S02", "Ben Okafor", "Ben Okafor (Host)")])
    ev = evaluate_names(report, NAMES_TRUTH)
    assert ev["people"]["ana"]["label_close"] and not ev["people"]["ana"]["label_exact"]
    assert ev["people"]["ben"]["label_exact"] and ev["people"]["ben"]["name_exact"]
    assert ev["people"]["lea"] == {
        "name": "Léa Dubois", "labels": ["Léa Dubois"], "student_id": "", "ocr_name": "",
        "student_name": "", "seen": False, "label_exact": False, "label_close": False,
        "name_exact": False}
    assert ev["names_exact"] == pytest.approx(2 / 3, abs=1e-4)
    # students.csv without ocr_name (older reports): the name is what was read
    (report / "students.csv").write_text("student_id,name\nS01,Ana García\nS02,Ben\n",
                                         encoding="utf-8")
    ev = evaluate_names(report, NAMES_TRUTH)
    assert ev["people"]["ana"]["ocr_name"] == "Ana García"
    assert not ev["people"]["ben"]["label_close"]
    (report / "observations.csv").unlink()
    from lecturelens.errors import InputError

    with pytest.raises(InputError, match="no observations.csv"):
        evaluate_names(report, NAMES_TRUTH)


def _names_eval_module():
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "bench" / "names_eval.py"
    spec = importlib.util.spec_from_file_location("names_eval", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_names_eval_table_and_specs():
    mod = _names_eval_module()
    row = {"seed": 0, "skin": "zoom", "width": 640, "height": 360, "tiles": 6, "faces": 1.0,
           "label_exact": 0.5, "label_close": 0.75, "ari": 0.9, "students_found": 8,
           "students_true": 6, "names_exact": 0.5, "names_exact_roster": 1.0,
           "ocr_share": 0.25, "x_real_time": 2.0}
    table = mod.format_table([row, {**row, "seed": 1, "ari": 0.7, "names_exact": 0.25},
                              {"seed": 2, "skin": "meet", "width": 640, "height": 360,
                               "tiles": 5, "error": "RuntimeError: boom"}]).splitlines()
    assert table[0].split()[:4] == ["seed", "skin", "size", "tiles"]
    assert table[1].split() == ["0", "zoom", "640x360", "6", "100.0", "50.0", "75.0",
                                "0.900", "8/6", "50.0", "100.0", "25.0", "2.0"]
    assert "ERROR: RuntimeError: boom" in table[3]
    mean = table[4].split()
    assert mean[:4] == ["mean", "n=2", "-", "6"] and mean[7] == "0.800"
    assert mean[8:10] == ["8.0/6.0", "37.5"]
    args = mod.argparse.Namespace(seeds=[0, 1], skins=["zoom", "classic"], tiles=[4, 25],
                                  sizes=[(640, 360), (1280, 720)], duration=20.0, fps=10.0,
                                  layout="gallery", scenario="hard", scripts=None)
    specs = mod.gallery_specs(args)
    assert [(s["seed"], s["skin"]) for s in specs] == [(0, "zoom"), (0, "classic"),
                                                       (1, "zoom"), (1, "classic")]
    # the skins of one seed show the same people at the same size
    assert specs[0]["tiles"] == specs[1]["tiles"] and specs[0]["width"] == specs[1]["width"]
    assert all(4 <= s["tiles"] <= 25 for s in specs)
    assert mod._int_range("0-2,5") == [0, 1, 2, 5]
