"""Opt-out matching and its crash-safe removal; the report folder's lock and one-line errors.

The removal is tested here on a small hand-made report folder (no models: milliseconds per
case), interrupted at every step; tests/test_optout_kill.py kills real runs with SIGKILL.
"""

from __future__ import annotations

import csv
import json
import os
import re
import socket
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import lecturelens.reportdir as reportdir
from lecturelens.cli import cli
from lecturelens.errors import FolderBusyError, OutputError, output_error
from lecturelens.optout import (PENDING_KEY, Exclusions, ExclusionError, Person,
                                raise_unmatched, read_exclude_file, recover, redact_argv,
                                remove_students, scrub, select)

PEOPLE = [Person("S01", "Ana García", "Ana Garcia", ("1",)),
          Person("S02", "Ben Okafor", "Ben Okafor", ("2", "5")),
          Person("S03", "Léo Dubois", "Leo Dubois", ("3",)),
          Person("S04", "Unknown 1", "", ("4",)),
          Person("S05", "Unknown 2", "", ("6",))]
ROSTER = ["Ana García", "Ben Okafor", "Léo Dubois", "Farid Haddad", "Léa Dubois"]


def _sel(*names, roster=ROSTER):
    return select(Exclusions(tuple(names)), PEOPLE, roster)


# --- who is meant -------------------------------------------------------------------------

def test_ids_exact_names_and_either_word_order():
    assert _sel("s02").ids == {"S02"}
    assert _sel("ana garcia").ids == {"S01"}          # accents and case aside
    assert _sel("Okafor, Ben").ids == {"S02"}         # a comma is part of one name
    assert _sel("Okafor Ben").ids == {"S02"}
    assert _sel("S05").ids == {"S05"}                 # an unread label: by id
    sel = _sel("Ben Okafor")
    assert "Ben Okafor" in sel.roster and sel.people == 1 and not sel.unmatched


def test_unknown_labels_only_match_exactly():
    assert _sel("Unknown 2").ids == {"S05"}
    assert _sel("Unknown 3").unmatched  # 90 % like "Unknown 2", yet nobody


def test_an_absent_roster_name_is_matched_and_counted():
    sel = _sel("Farid Haddad")
    assert sel.ids == set() and sel.roster == {"Farid Haddad"} and sel.people == 1


def test_a_slip_is_taken_with_a_note_and_a_near_miss_is_an_error_with_the_closest_name():
    sel = _sel("Ben Okafr", roster=[])
    assert sel.ids == {"S02"} and "taken as 'Ben Okafor'" in sel.notes[0]
    # Close to a student's name and to its own OCR reading: still one person.
    slip = [Person("S02", "Ben Okafor", "Ben 0kafor")]
    assert select(Exclusions(("Ben Okafore",)), slip).ids == {"S02"}
    sel = _sel("Benjamin Okafor", roster=[])
    assert not sel.ids
    with pytest.raises(ExclusionError) as err:
        raise_unmatched(sel, "out/lecture")
    msg = str(err.value)
    assert "'Benjamin Okafor' matches no student" in msg and "did you mean 'Ben Okafor'" in msg
    assert "\n" not in msg and "Benjamin" not in err.value.redacted


def test_two_close_names_are_ambiguous_and_nobody_is_an_error_naming_it():
    # Léa (absent) and Léo (present) are one letter apart: neither is guessed.
    sel = _sel("Lea Duboiss")
    assert not sel.ids and "close to several" in sel.unmatched[0][1]
    sel = _sel("Zed Nobody")
    assert sel.unmatched and "'Zed Nobody' matches no student" in sel.unmatched[0][1]
    assert "S04" in sel.unmatched[0][1]  # says how to name an unread student


def test_photos_match_every_student_within_the_models_distance():
    emb = np.array([[0, 0], [1, 0], [5, 5], [np.nan, np.nan], [9, 9]], np.float32)
    sel = select(Exclusions(faces=("a.jpg", "b.jpg")), PEOPLE, [], emb,
                 np.array([[0.2, 0], [20, 20]], np.float32), 0.6)
    assert sel.ids == {"S01"}
    assert sel.unmatched[0][0] == "b.jpg" and "closest: S05" in sel.unmatched[0][1]


def test_exclude_file_one_name_per_line(tmp_path):
    p = tmp_path / "optout.txt"
    p.write_bytes("# parents' requests\nOkafor, Ben\n\n  Léa   Dubois \r\nS04\n"
                  .encode("utf-16"))
    assert read_exclude_file(p) == ["Okafor, Ben", "Léa Dubois", "S04"]
    p.write_bytes("Chloé Martin\n".encode("cp1252"))
    assert read_exclude_file(p) == ["Chloé Martin"]
    p.write_text("# nobody\n\n")
    with pytest.raises(Exception, match="no names"):
        read_exclude_file(p)


def test_redaction_of_command_lines_and_records():
    argv = ["lecturelens", "analyze", "v.mp4", "--exclude", "Ben Okafor", "--exclude-face",
            "/p/farid.jpg", "--exclude-file=list.txt", "--title", "Ben Okafor's class"]
    out = redact_argv(argv, ["Ben Okafor"])
    assert out[:4] == argv[:4] and "Ben Okafor" not in " ".join(out)
    assert "farid" not in " ".join(out) and "list.txt" not in " ".join(out)
    rec = {"input": {"path": "/v/Ben Okafor.mp4"}, "roster_absent": ["Ben Okafor", "Zoe"],
           "warnings": ["2 duplicate name(s) dropped: BEN OKAFOR"], "students": 3,
           "note": "Benoit"}
    out = scrub(rec, ["Ben Okafor"])
    assert out["roster_absent"] == ["Zoe"] and "OKAFOR" not in json.dumps(out)
    assert out["input"] == rec["input"] and out["note"] == "Benoit" and out["students"] == 3


# --- removal, interrupted at every step ---------------------------------------------------

GONE = ("Ben Okafor", "Ben_Okafor", "Farid Haddad")


def _write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def _rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _make_report(dest: Path) -> Path:
    """A small complete report: Ana (S01), Ben (S02, tracks 2 and 5), an unread S03; Farid on
    the roster but absent; every kind of file that can name or show a student."""
    dest.mkdir(parents=True)
    students = [("S01", "Ana García", "1"), ("S02", "Ben Okafor", "2 5"),
                ("S03", "Unknown 1", "3")]
    _write_csv(dest / "students.csv", ["student_id", "name", "ocr_name", "on_roster", "tracks"],
               [(s, n, n, "yes", t) for s, n, t in students])
    np.save(dest / "student_embeddings.npy", np.arange(3 * 4, dtype=np.float32).reshape(3, 4))
    tracks = [(1, "S01"), (2, "S02"), (3, "S03"), (5, "S02")]
    _write_csv(dest / "tracks.csv", ["track_id", "student_id", "name"],
               [(t, s, dict((a, b) for a, b, _ in students)[s]) for t, s in tracks])
    obs = [(f"{t:.1f}", tid, sid) for t in range(6) for tid, sid in tracks]
    _write_csv(dest / "observations.csv", ["t", "track_id", "student_id"], obs)
    np.save(dest / "emotion_features.npy",
            np.arange(len(obs), dtype=np.float16)[:, None].repeat(3, axis=1))
    _write_csv(dest / "roster.csv", ["name", "student_id", "status"],
               [("Ana García", "S01", "present"), ("Ben Okafor", "S02", "present"),
                ("Farid Haddad", "", "absent")])
    run = {"status": "ok", "input": {"path": "/videos/lecture.mp4"}, "config": {"fps": 1.0},
           "command": ["lecturelens", "analyze", "lecture.mp4"], "students": 3,
           "roster_absent": ["Farid Haddad"], "not_on_roster": [],
           "warnings": ["roster.csv: 1 duplicate name(s) dropped: farid haddad"]}
    (dest / "run.json").write_text(json.dumps(run), encoding="utf-8")
    _write_csv(dest / "windows.csv", ["student_id", "name"], [(s, n) for s, n, _ in students])
    _write_csv(dest / "gifs.csv", ["student_id", "name", "path"],
               [("S02", "Ben Okafor", "gifs/S02_Ben_Okafor/happy_00m01s.gif")])
    (dest / "gifs" / "S02_Ben_Okafor").mkdir(parents=True)
    (dest / "gifs" / "S02_Ben_Okafor" / "happy_00m01s.gif").write_bytes(b"GIF89a")
    (dest / "students").mkdir()
    (dest / "students" / "S02.png").write_bytes(b"\x89PNG")
    (dest / "report.html").write_text("<h3>Ben Okafor</h3><h3>Ana García</h3>", "utf-8")
    return dest


def _snapshot(dest: Path) -> dict:
    return {p.relative_to(dest).as_posix(): p.read_bytes()
            for p in sorted(dest.rglob("*")) if p.is_file()}


def traces(dest: Path, names=GONE) -> list[str]:
    """Files whose path or bytes name one of ``names``."""
    found = []
    for p in dest.rglob("*"):
        rel = p.relative_to(dest).as_posix()
        data = p.read_bytes() if p.is_file() else b""
        if any(n in rel or n.encode() in data for n in names):
            found.append(rel)
    return found


def _check_clean(dest: Path) -> None:
    assert not traces(dest), traces(dest)
    run = json.loads((dest / "run.json").read_text())
    assert run[PENDING_KEY]["done"] and run["excluded_students"] == 2 and run["students"] == 2
    assert run["roster_absent"] == [] and "duplicate" not in json.dumps(run)
    students = _rows(dest / "students.csv")
    assert [s["student_id"] for s in students] == ["S01", "S03"]
    assert np.load(dest / "student_embeddings.npy").tolist() == \
        np.arange(12, dtype=np.float32).reshape(3, 4)[[0, 2]].tolist()
    obs = _rows(dest / "observations.csv")
    feats = np.load(dest / "emotion_features.npy")
    assert len(obs) == len(feats) == 12 and {o["student_id"] for o in obs} == {"S01", "S03"}
    # Row i of the features is still row i of the observations.
    whole = [(t, tid) for t in range(6) for tid in (1, 2, 3, 5)]
    assert [float(f[0]) for f in feats] == [float(whole.index((int(float(o["t"])),
                                                               int(o["track_id"]))))
                                            for o in obs]
    assert [t["track_id"] for t in _rows(dest / "tracks.csv")] == ["1", "3"]
    assert [r["name"] for r in _rows(dest / "roster.csv")] == ["Ana García"]
    assert not (dest / "report.html").exists()  # removed; `report` rebuilds it
    assert not [p.name for p in dest.iterdir() if p.name.startswith(".")]


class Killed(BaseException):
    """Stands for a kill at one step (BaseException: nothing catches it on the way)."""


def _steps(tmp_path) -> list[str]:
    seen: list[str] = []
    reportdir.step_hook = seen.append
    try:
        remove_students(_make_report(tmp_path / "count"), Exclusions(("Okafor, Ben",
                                                                       "Farid Haddad")))
    finally:
        reportdir.step_hook = None
    return seen


def test_removal_leaves_no_trace_and_keeps_rows_aligned(tmp_path):
    dest = _make_report(tmp_path / "r")
    sel = remove_students(dest, Exclusions(("Okafor, Ben", "Farid Haddad")))
    assert sel.ids == {"S02"} and sel.people == 2
    _check_clean(dest)


def test_removal_interrupted_at_every_step_is_finished_by_the_next_command(tmp_path):
    steps = _steps(tmp_path)
    assert steps[0] == "optout pending" and steps[-1] == "optout done" and len(steps) >= 15
    # report.html is the first thing to go once the pending record is written.
    assert steps[1] == "removed report.html"
    for k in range(len(steps)):
        dest = _make_report(tmp_path / f"k{k}")
        before = _snapshot(dest)
        calls = []

        def kill(name, k=k, calls=calls):
            calls.append(name)
            if len(calls) == k + 1:
                raise Killed(name)

        reportdir.step_hook = kill
        try:
            with pytest.raises(Killed):
                remove_students(dest, Exclusions(("Okafor, Ben", "Farid Haddad")))
        finally:
            reportdir.step_hook = None
        run = json.loads((dest / "run.json").read_text())
        if steps[k] == "optout done":  # killed after the last change: nothing left to do
            _check_clean(dest)
            assert recover(dest).done
            continue
        # Interrupted: the record says what is left to do, and nothing looks complete.
        assert _snapshot(dest) != before and not run[PENDING_KEY]["done"]
        assert not (dest / "report.html").exists() or k == 0
        assert "Ben Okafor" not in json.dumps(run) and "Farid" not in json.dumps(run)
        assert not (dest / "gifs").exists() or k <= len(DERIVED_ORDER), steps[k]
        # The next command finishes it first; the same exclusion again is then no error.
        finished = recover(dest)
        assert finished is not None
        _check_clean(dest)
        again = remove_students(dest, Exclusions(("Okafor, Ben", "Farid Haddad")),
                                finished=finished)
        assert not again.ids and not again.unmatched
        _check_clean(dest)


DERIVED_ORDER = ("optout pending",) + tuple(f"removed {n}" for n in reportdir.DERIVED_FILES)


def test_an_unmatched_exclusion_changes_nothing(tmp_path):
    dest = _make_report(tmp_path / "r")
    before = _snapshot(dest)
    with pytest.raises(ExclusionError, match="'Zed' matches no student"):
        remove_students(dest, Exclusions(("Ben Okafor", "Zed")))
    assert _snapshot(dest) == before


def test_report_command_with_exclude_file_and_unmatched_names(tmp_path):
    dest = _make_report(tmp_path / "r")
    lst = tmp_path / "optout.txt"
    lst.write_text("Okafor, Ben\nBenjamin Okafr\n", encoding="utf-8")
    r = CliRunner().invoke(cli, ["report", str(dest), "-q", "--exclude-file", str(lst)])
    assert r.exit_code == 2, r.output
    line = r.output.strip()
    assert "\n" not in line and line.startswith("lecturelens: error: ")
    assert "'Benjamin Okafr' matches no student" in line and "Nothing was removed" in line
    assert "internal error" not in r.output


# --- the folder: lock, temporary files, output errors -------------------------------------

def test_one_writer_per_folder_and_the_second_is_told_who(tmp_path):
    dest = reportdir.make_folder(tmp_path / "r")
    with reportdir.FolderLock(dest, "analyze"):
        with pytest.raises(FolderBusyError) as err:
            reportdir.FolderLock(dest, "report").acquire()
        msg = str(err.value)
        assert f"pid {os.getpid()} on {socket.gethostname()}" in msg and "analyze" in msg
        assert "\n" not in msg and err.value.exit_code == 75
    assert not (dest / reportdir.LOCK_FILE).exists()
    with reportdir.FolderLock(dest, "report"):  # free again
        pass


def test_report_on_a_busy_folder_is_one_line(tmp_path):
    dest = _make_report(tmp_path / "r")
    with reportdir.FolderLock(dest, "analyze"):
        r = CliRunner().invoke(cli, ["report", str(dest), "-q", "--gifs", "none"])
    assert r.exit_code == 75 and "another LectureLens run is writing" in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_sweep_removes_what_killed_runs_left(tmp_path):
    dest = reportdir.make_folder(tmp_path / "r")
    for name in (".observations.ab12.rows.tmp", ".emotion_features.npy.x.rows.tmp",
                 ".run.json.q.tmp"):
        (dest / name).write_bytes(b"")
    (dest / ".gifs.removing" / "S02_Ben").mkdir(parents=True)
    (dest / "keep.csv").write_text("x")
    reportdir.sweep_temps(dest)
    assert sorted(p.name for p in dest.iterdir()) == ["keep.csv"]


def test_a_file_in_the_way_of_the_report_folder(tmp_path, testsrc_video):
    out = tmp_path / "out"
    out.mkdir()
    (out / "testsrc").write_text("not a folder")
    r = CliRunner().invoke(cli, ["analyze", str(testsrc_video), "-o", str(out), "-q"])
    assert r.exit_code == OutputError.exit_code == 73, r.output
    assert "a file is in the way of the report folder" in r.output
    assert len(r.output.strip().splitlines()) == 1 and "internal error" not in r.output


def test_a_read_only_output_folder_is_one_line(tmp_path, testsrc_video, monkeypatch):
    # (root ignores permission bits, so the refusal is made here as the OS would make it)
    real_open = os.open

    def refuse(path, flags, *a, **k):
        if str(path).startswith(str(tmp_path / "out")) and flags & os.O_CREAT:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *a, **k)

    monkeypatch.setattr(reportdir.os, "open", refuse)
    r = CliRunner().invoke(cli, ["analyze", str(testsrc_video), "-o", str(tmp_path / "out"),
                                 "-q"])
    assert r.exit_code == 73, r.output
    assert "permission denied" in r.output and "writable" in r.output
    assert len(r.output.strip().splitlines()) == 1 and "internal error" not in r.output


@pytest.mark.parametrize("errno_, words", [(28, "no space left"), (30, "read-only"),
                                           (20, "in the way"), (13, "permission denied")])
def test_output_errors_name_the_path_and_the_fix(errno_, words):
    err = output_error(OSError(errno_, os.strerror(errno_), "/out/lecture/run.json"))
    assert str(err).startswith("/out/lecture/run.json: cannot write") and words in str(err)
    assert err.exit_code not in (0, 1, 70) and "-o" in str(err)


def test_nan_in_the_config_file_stops_before_anything_is_written(tmp_path, testsrc_video):
    cfg = tmp_path / "c.toml"
    for text in ("[analyze]\nfps = nan\n", "[analyze]\nwindow = nan\n",
                 "[analyze]\ngif_seconds = nan\n", "[analyse]\nfps = 2\n"):
        cfg.write_text(text)
        r = CliRunner().invoke(cli, ["analyze", str(testsrc_video), "-o", str(tmp_path / "o"),
                                     "--config", str(cfg)])
        assert r.exit_code == 2 and "internal error" not in r.output, r.output
        assert len(r.output.strip().splitlines()) == 1
        assert not (tmp_path / "o").exists()


# --- batches ------------------------------------------------------------------------------

def test_a_killed_batch_shows_interrupted(tmp_path):
    from lecturelens.batch import RECORD_FILE, RunRecord, _exclusive

    rec = RunRecord(tmp_path / RECORD_FILE)
    for key, worker in (("a.mp4", f"{socket.gethostname()}:{os.getpid()}"),
                        ("b.mp4", f"{socket.gethostname()}:{2 ** 22 + 12345}")):
        rec.db.execute("INSERT INTO recordings (key, path, report, state, worker) "
                       "VALUES (?, ?, ?, 'running', ?)", (key, key, key, worker))
    rec.close()
    r = CliRunner().invoke(cli, ["batch-status", str(tmp_path)])
    assert r.exit_code == 0
    # No batch holds the folder: both were being analysed when it died.
    assert re.findall(r"^(\w+) +(\S+)", r.output, re.M) == [("interrupted", "a.mp4"),
                                                            ("interrupted", "b.mp4")]
    with _exclusive(tmp_path):  # a live batch: its live worker runs, its dead one does not
        r = CliRunner().invoke(cli, ["batch-status", str(tmp_path)])
    assert re.findall(r"^(\w+) +(\S+)", r.output, re.M) == [("running", "a.mp4"),
                                                            ("interrupted", "b.mp4")]
