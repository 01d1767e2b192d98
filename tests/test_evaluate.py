"""evaluate_detection on truths with camera-off tiles, absences and a screen share;
adjusted_rand_index and evaluate_people on hand-made reports."""

import csv
import json
from pathlib import Path

import pytest

from lecturelens.compose import compose_gallery, tile_at
from lecturelens.evaluate import adjusted_rand_index, evaluate_detection, evaluate_people


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
        w = csv.DictWriter(fh, ["t", "frame", "track_id", "x1", "y1", "x2", "y2"])
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
