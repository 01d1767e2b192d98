"""Semester batch: discovery, run record, failure isolation, resume after kill -9, Dask."""

from __future__ import annotations

import csv
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from lecturelens.batch import (RECORD_FILE, STAGING_DIR, BatchSettings, LocalExecutor,
                               _report_names, config_hash, find_recordings, fingerprint,
                               read_record, run_batch)
from lecturelens.cli import cli
from lecturelens.dev.compose import compose_gallery
from lecturelens.config import AnalyzeConfig
from lecturelens.errors import ConfigError, InputError

GOOD = ["week1/lecture.mp4", "week2/lecture.mp4", "week3/2026-10-01.mkv"]
BAD = {"zero.mp4": "empty", "truncated.mp4": "truncated", "notes.mp4": "not a video",
       "audio_only.mp4": "no video stream"}
# Fast settings: the batch machinery is under test here, not the report stage.
FAST = dict(gifs="none", fps=2.0)


@pytest.fixture(scope="module")
def archive(tmp_path_factory, ffmpeg) -> Path:
    """Three short 2x2 galleries of the same class (another tile order each), plus a zero-byte,
    a truncated, a text and an audio-only '.mp4' and a file the pattern ignores."""
    root = tmp_path_factory.mktemp("archive")
    for i, rel in enumerate(GOOD):
        out = root / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".mp4")
        compose_gallery(tmp, rows=2, cols=2, duration=6.0, fps=10, width=640, height=360,
                        seed=i, shuffle_start=i > 0)
        if out.suffix != ".mp4":
            ffmpeg("-i", str(tmp), "-c", "copy", str(out))
            tmp.unlink()
        tmp.with_suffix(".truth.json").unlink(missing_ok=True)
        out.with_suffix(".truth.json").unlink(missing_ok=True)
    (root / "zero.mp4").write_bytes(b"")
    data = (root / GOOD[0]).read_bytes()
    (root / "truncated.mp4").write_bytes(data[: len(data) // 2])
    (root / "notes.mp4").write_text("lecture notes, not a video\n")
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:a", "aac",
           str(root / "audio_only.mp4"))
    (root / "README.txt").write_text("not matched by the pattern\n")
    return root


def _table(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


# --- units --------------------------------------------------------------------------------

def test_find_recordings_is_recursive_sorted_and_skips_outdir(tmp_path):
    for rel in ["b/2.MP4", "a/1.mkv", "a/.hidden.mp4", ".cache/x.mp4", "a/notes.txt",
                "out/a/report.mp4"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    found = find_recordings(tmp_path, skip=[tmp_path / "out"])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a/1.mkv", "b/2.MP4"]
    assert find_recordings(tmp_path, "*.txt")[0].name == "notes.txt"
    with pytest.raises(InputError, match="not a folder"):
        find_recordings(tmp_path / "a" / "1.mkv")


def test_report_names_are_unique_and_keep_the_course_folder_free():
    names = _report_names(["w1/lec.mp4", "w1/lec.mkv", "w2/lec.mp4", "course.mp4", "x"])
    assert names == {"w1/lec.mp4": "w1/lec_mp4", "w1/lec.mkv": "w1/lec_mkv",
                     "w2/lec.mp4": "w2/lec", "course.mp4": "recording_course", "x": "x"}


def test_fingerprint_and_config_hash_change_with_what_matters(tmp_path):
    f = tmp_path / "v.mp4"
    f.write_bytes(os.urandom(3 << 20))
    fp = fingerprint(f, f.stat().st_size)
    with open(f, "r+b") as fh:  # the tail changes (e.g. a re-export of the same length)
        fh.seek(-10, os.SEEK_END)
        fh.write(b"0123456789")
    assert fingerprint(f, f.stat().st_size) != fp
    base = AnalyzeConfig()
    assert config_hash(base) == config_hash(base.replace(threads=4))  # speed only
    assert config_hash(base) != config_hash(base.replace(window=6.0))
    roster = tmp_path / "class.csv"
    roster.write_text("name\nAna\n")
    h = config_hash(base.replace(roster=str(roster)))
    roster.write_text("name\nAna\nBen\n")
    assert config_hash(base.replace(roster=str(roster))) != h


def test_settings_are_validated():
    with pytest.raises(ConfigError, match="--scheduler"):
        BatchSettings(executor="dask").validate()
    with pytest.raises(ConfigError, match="--jobs"):
        BatchSettings(jobs=0).validate()


def test_a_worker_that_dies_fails_its_recording_only(testsrc_video, tmp_path):
    ex = LocalExecutor(1)
    worker = ex.submit("v.mp4", ("v.mp4", str(testsrc_video), str(tmp_path), "v",
                                 AnalyzeConfig().to_dict(), 1))
    os.kill(int(worker.rsplit(":", 1)[1]), signal.SIGKILL)
    [out] = ex.wait()
    assert not out.ok and out.key == "v.mp4"
    assert "worker process died (killed by signal 9" in out.reason
    assert not ex.running


def test_missing_archive_and_record_are_one_line_errors(tmp_path):
    r = CliRunner().invoke(cli, ["batch", str(tmp_path / "nope"), "-o", str(tmp_path / "o")])
    assert r.exit_code == 2 and "not a folder" in r.output
    r = CliRunner().invoke(cli, ["batch-status", str(tmp_path)])
    assert r.exit_code == 2 and "no run record" in r.output


# --- whole batches (real videos, real models) -----------------------------------------------

@pytest.fixture(scope="module")
def first_batch(archive, tmp_path_factory):
    out = tmp_path_factory.mktemp("batch_out")
    lines = []
    summary = run_batch(archive, out, AnalyzeConfig(**FAST), BatchSettings(jobs=1),
                        progress=False, echo=lines.append)
    return out, summary, lines


@pytest.mark.slow
def test_batch_finishes_good_recordings_and_lists_bad_ones(archive, first_batch):
    out, summary, lines = first_batch
    assert sorted(summary.done) == sorted(GOOD)
    failed = dict(summary.failed)
    assert sorted(failed) == sorted(BAD)
    for key, words in BAD.items():
        assert words in failed[key], failed[key]
        assert "\n" not in failed[key]
    assert summary.exit_code == 4
    assert len(lines) == len(GOOD) + len(BAD)  # one line per recording as it finishes
    rows = {r["key"]: r for r in read_record(out)}
    assert set(rows) == set(GOOD) | set(BAD)  # README.txt is not a recording
    for key in GOOD:
        r = rows[key]
        assert r["state"] == "done" and r["attempts"] == 1 and r["wall_seconds"] > 0
        assert r["peak_rss_mb"] > 100 and r["students"] == 4
        rep = out / r["report"]
        assert (rep / "report.html").is_file() and (rep / "observations.csv").is_file()
    assert rows["week1/lecture.mp4"]["report"] == "week1/lecture"
    assert all(rows[k]["state"] == "failed" and rows[k]["input_error"] == 1 for k in BAD)
    assert not (out / STAGING_DIR).exists()
    assert not list(out.rglob("*.tmp"))


@pytest.mark.slow
def test_course_view_links_students_and_lectures(first_batch):
    out, summary, _ = first_batch
    course = out / "course"
    assert summary.course["lectures"] == 3 and summary.course["students"] == 4
    roster = _table(course / "course_roster.csv")
    assert all(row[2] == "3" for row in roster[1:])  # every student linked in all 3 lectures
    trends = list(csv.DictReader(open(course / "trends.csv", encoding="utf-8")))
    assert len(trends) == 4 * 3 and all(t["attended"] == "yes" for t in trends)
    assert all(0 <= float(t["mean_engagement"]) <= 1 for t in trends)
    html = (course / "index.html").read_text(encoding="utf-8")
    hrefs = re.findall(r'href="([^"]+report\.html)"', html)
    assert len(hrefs) == 3 and all((course / h).resolve().is_file() for h in hrefs)
    for name in BAD:
        assert name in html
    assert (course / "trends.png").is_file()
    assert len(list((course / "students").glob("C*.png"))) == 4


@pytest.mark.slow
def test_second_run_does_no_work_and_force_redoes(archive, first_batch):
    out, _, _ = first_batch
    before = {r["key"]: r for r in read_record(out)}
    t0 = time.time()
    s = run_batch(archive, out, AnalyzeConfig(**FAST).replace(threads=1), BatchSettings(),
                  progress=False, echo=lambda _: None)
    assert not s.done and len(s.skipped) == len(GOOD) + len(BAD)
    assert sorted(k for k, _ in s.failed) == sorted(BAD) and s.exit_code == 4
    after = {r["key"]: r for r in read_record(out)}
    assert after == before  # nothing re-run, nothing rewritten
    assert time.time() - t0 < 30
    # A changed setting makes the recordings pending again (here: only checked, not run).
    assert config_hash(AnalyzeConfig(**FAST)) != config_hash(AnalyzeConfig(**FAST, window=6))


@pytest.mark.slow
def test_kill_9_mid_batch_then_rerun_completes_without_duplicates(archive, tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "lecturelens", "batch", str(archive), "-o", str(out), "-q",
           "--gifs", "none", "--fps", "2", "--pattern", "*.mp4,*.mkv"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    db = out / RECORD_FILE
    deadline = time.time() + 240
    done = []
    while time.time() < deadline:
        time.sleep(0.5)
        if db.is_file():
            with sqlite3.connect(db) as con:
                done = [k for k, in con.execute(
                    "SELECT key FROM recordings WHERE state = 'done'")]
                running = con.execute(
                    "SELECT count(*) FROM recordings WHERE state = 'running'").fetchone()[0]
            if done and running:  # one finished, the next one is in the middle
                break
    assert done, "the first recording never finished"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(1.0)  # the worker dies with the batch (PR_SET_PDEATHSIG)
    first_done = {r["key"]: r["finished_at"] for r in read_record(out) if r["state"] == "done"}
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 4, r.stderr  # the bad files are still bad
    rows = {x["key"]: x for x in read_record(out)}
    assert all(rows[k]["state"] == "done" for k in GOOD), \
        {k: (rows[k]["state"], rows[k]["reason"]) for k in GOOD}
    for k, t in first_done.items():  # finished before the kill: not redone
        assert rows[k]["finished_at"] == t and rows[k]["attempts"] == 1
    reports = sorted(p.parent.relative_to(out).as_posix() for p in out.rglob("run.json"))
    assert reports == sorted(rows[k]["report"] for k in GOOD)  # one report each, no strays
    assert not (out / STAGING_DIR).exists()
    assert "failed zero.mp4" in r.stderr


@pytest.mark.slow
def test_dask_local_cluster_gives_the_same_reports(archive, first_batch, tmp_path):
    distributed = pytest.importorskip("distributed")
    out1, _, _ = first_batch
    out = tmp_path / "dask_out"
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        s = run_batch(archive, out, AnalyzeConfig(**FAST),
                      BatchSettings(executor="dask", scheduler=cluster.scheduler_address),
                      progress=False, echo=lambda _: None)
    assert sorted(s.done) == sorted(GOOD)
    assert sorted(k for k, _ in s.failed) == sorted(BAD)
    rows = {r["key"]: r for r in read_record(out)}
    for key in GOOD:
        rep = rows[key]["report"]
        for name in ("observations.csv", "students.csv", "tracks.csv", "windows.csv",
                     "group.csv"):
            assert _table(out / rep / name) == _table(out1 / rep / name), (rep, name)
    assert _table(out / "course" / "trends.csv") == _table(out1 / "course" / "trends.csv")


def test_dask_scheduler_unreachable_is_a_config_error(tmp_path, archive):
    pytest.importorskip("distributed")
    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler"):
        run_batch(archive, tmp_path / "o", AnalyzeConfig(),
                  BatchSettings(executor="dask", scheduler="tcp://127.0.0.1:1"),
                  progress=False, echo=lambda _: None)
