#!/usr/bin/env python3
"""Speed benchmark: `analyze` against the naive pipeline on a 25-tile 720p gallery.

    make bench                      # or: .venv/bin/python bench/speed.py [options]

1. Composes (once; reused after) ``bench/videos/gallery_5x5_<N>s.mp4``: a 1280x720 gallery of
   25 real faces (the shared face videos, mirrored where tiles outnumber them; scikit-image's
   astronaut when they are absent) with its truth file.
2. Runs ``lecturelens analyze`` on it at 1 fps in a child process and reports seconds of
   video per second of wall time (x real time, model loading included), the stage times
   from run.json, peak memory (the child's max RSS) and the people evaluation against the
   truth (ARI, students found, names right).
3. Runs the naive pipeline (``bench/naive.py``: every stage on every sampled frame, same
   models, same sampling) on the first ``--naive-seconds`` of the same video, in the same
   run, and prints the ratio of the two speeds. The naive pipeline carries no state from
   frame to frame, so its cost per video second does not depend on where it is measured;
   its model loading is left out of its figure (in its favour).

Prints a summary and writes everything as JSON (``--json``, default
``bench/results/speed.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _tree_memory_mb(pid: int) -> float | None:
    """Memory of a running process and its descendants in MB: the sum of their PSS.

    PSS (proportional set size, Linux ``/proc/<pid>/smaps_rollup``) counts a page shared by
    several processes once in all, in shares: the emotion worker maps the same torch
    libraries as analyze, and adding the two RSS figures would count them twice.
    ``None`` where ``/proc`` has no such figures.
    """
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, todo, seen = 0.0, [pid], False
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            with open(f"/proc/{p}/smaps_rollup", encoding="ascii") as fh:
                for line in fh:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) / 1024
                        seen = True
                        break
        except OSError:
            continue
    return total if seen else None


def run_child(cmd: list[str], sample_every: float = 0.0, **kw
              ) -> tuple[float, float, int, list[tuple[float, float]]]:
    """Run ``cmd``; return (wall seconds, peak RSS of the child in MB, exit code, timeline).

    With ``sample_every`` > 0 the memory of the child and its children (PSS, see
    :func:`_tree_memory_mb`) is also read every that many seconds, as ``(seconds since
    start, MB)`` pairs: whether memory stays flat over a long video shows in the timeline,
    not in the peak alone.
    """
    import threading

    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, **kw)
    timeline: list[tuple[float, float]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(sample_every):
            mb = _tree_memory_mb(p.pid)
            if mb is not None:
                timeline.append((round(time.perf_counter() - t0, 1), round(mb)))

    sampler = threading.Thread(target=sample, daemon=True) if sample_every > 0 else None
    if sampler is not None:
        sampler.start()
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    done.set()
    if sampler is not None:
        sampler.join()
    p.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, p.returncode, timeline


def _emotion_counts(path: Path) -> dict[str, int]:
    """How often each emotion label was predicted (a fingerprint of the emotion results)."""
    import csv

    counts: dict[str, int] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            e = row.get("emotion", "")
            counts[e] = counts.get(e, 0) + 1
    return dict(sorted(counts.items()))


def bench_video(seconds: float, rows: int, cols: int, base_seconds: float = 60.0) -> Path:
    """The bench recording, made on first use and reused after.

    Composing runs at a few frames per second, so a ``base_seconds`` gallery is composed and
    looped (stream copy, no re-encoding) to ``seconds``; the truth file is extended to match
    (the default gallery has no events, so one segment covers the whole video).
    """
    from lecturelens.dev.compose import compose_gallery
    from lecturelens.ingest import ffmpeg_exe

    folder = ROOT / "bench" / "videos"
    base = folder / f"gallery_{rows}x{cols}_{int(base_seconds)}s.mp4"
    if not base.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        print(f"composing {base.relative_to(ROOT)} ({base_seconds:.0f} s, {rows}x{cols}, "
              "1280x720, 25 fps; a few minutes, once) ...", file=sys.stderr)
        tmp = base.with_name(".tmp." + base.name)
        compose_gallery(tmp, rows=rows, cols=cols, duration=base_seconds, fps=25, width=1280,
                        height=720, seed=0)
        os.replace(tmp.with_suffix(".truth.json"), base.with_suffix(".truth.json"))
        os.replace(tmp, base)
    if seconds <= base_seconds:
        return base
    out = folder / f"gallery_{rows}x{cols}_{int(seconds)}s.mp4"
    if not out.is_file():
        loops = int(-(-seconds // base_seconds))
        listing = folder / ".concat.txt"
        listing.write_text(f"file '{base.name}'\n" * loops)
        tmp = out.with_name(".tmp." + out.name)
        subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "concat",
                        "-safe", "0", "-i", str(listing), "-t", str(seconds), "-c", "copy",
                        str(tmp)], check=True)
        listing.unlink()
        truth = json.loads(base.with_suffix(".truth.json").read_text(encoding="utf-8"))
        if truth.get("events") or len(truth["segments"]) != 1:
            raise SystemExit(f"{base}: has events; loop only event-free galleries")
        truth["video"], truth["duration"] = out.name, seconds
        truth["segments"][0]["end"] = seconds
        out.with_suffix(".truth.json").write_text(json.dumps(truth, ensure_ascii=False))
        os.replace(tmp, out)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--video", type=Path, help="bench recording (default: composed)")
    p.add_argument("--seconds", type=float, default=600, help="length of the composed video")
    p.add_argument("--rows", type=int, default=5)
    p.add_argument("--cols", type=int, default=5)
    p.add_argument("--fps", type=float, default=1.0, help="sampling rate of both pipelines")
    p.add_argument("--naive-seconds", type=float, default=30.0,
                   help="video seconds the naive pipeline is timed on (0: skip it)")
    p.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "speed.json")
    p.add_argument("--rss-every", type=float, default=5.0,
                   help="seconds between readings of analyze's memory, with its emotion "
                        "worker (0: peak RSS only)")
    p.add_argument("--keep", type=Path, help="keep analyze's reports in this folder")
    p.add_argument("analyze_args", nargs="*", help="extra options for analyze (after --)")
    a = p.parse_args()

    video = a.video or bench_video(a.seconds, a.rows, a.cols)
    truth = video.with_suffix(".truth.json")
    exe = [sys.executable, "-m", "lecturelens"]
    result: dict = {"video": str(video), "fps": a.fps, "cpu": platform.processor() or "",
                    "cores": os.cpu_count(), "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    with tempfile.TemporaryDirectory() as tmp:
        outdir = a.keep or Path(tmp)
        wall, rss, code, timeline = run_child(
            exe + ["analyze", str(video), "-o", str(outdir), "-q", "--fps", str(a.fps)]
            + a.analyze_args, sample_every=a.rss_every)
        if code != 0:
            print(f"analyze failed (exit {code})", file=sys.stderr)
            return 1
        rep = outdir / video.stem
        run = json.loads((rep / "run.json").read_text())
        duration = run["input"]["duration"]
        result["analyze"] = {
            "video_seconds": duration, "wall_seconds": round(wall, 2),
            "x_real_time": round(duration / wall, 2), "peak_rss_mb": round(rss),
            "timings": run["timings"], "frames_sampled": run["frames_sampled"],
            "faces_detected": run["faces_detected"], "students": run["students"],
            "students_named": run["students_named"],
            # The emotion worker is a process of its own: its peak adds to analyze's (the
            # sum of two peaks, so an upper bound of the pair's peak together).
            "emotion_worker_peak_rss_mb": run.get("emotion_worker_peak_rss_mb"),
            "peak_rss_total_mb": round(rss + (run.get("emotion_worker_peak_rss_mb") or 0)),
            "peak_pss_total_mb": max((mb for _, mb in timeline), default=None),
            "rss_timeline_mb": timeline,
        }
        if truth.is_file():
            from lecturelens.dev.evaluate import evaluate_detection, evaluate_people

            t = json.loads(truth.read_text(encoding="utf-8"))
            pe = evaluate_people(rep, t)
            de = evaluate_detection(rep, t)
            result["analyze"]["accuracy"] = {
                "ari": pe["ari"], "students_found": pe["students_found"],
                "students_true": pe["students_true"], "exact_names": pe["exact_names"],
                "detection_recall": round(de["recall"], 4),
                "false_positives": de["false_positives"],
                "emotion_labels": _emotion_counts(rep / "observations.csv")}
    if a.naive_seconds > 0:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "naive.json"
            wall, rss, code, _ = run_child([sys.executable, str(ROOT / "bench" / "naive.py"),
                                         str(video), "--fps", str(a.fps), "--seconds",
                                         str(a.naive_seconds), "--json", str(out)])
            if code != 0:
                print(f"naive pipeline failed (exit {code})", file=sys.stderr)
                return 1
            naive = json.loads(out.read_text())
        naive["peak_rss_mb"] = round(rss)
        result["naive"] = naive
        result["speedup"] = round(result["analyze"]["x_real_time"] / naive["x_real_time"], 1)
    a.json.parent.mkdir(parents=True, exist_ok=True)
    tmp_json = a.json.with_name("." + a.json.name + ".tmp")
    tmp_json.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp_json, a.json)

    an = result["analyze"]
    print(f"video: {video.name}, {an['video_seconds']:.0f} s, {an['frames_sampled']} frames at "
          f"{a.fps:g} fps, {an['faces_detected']} faces")
    print(f"analyze: {an['wall_seconds']:.1f} s wall = {an['x_real_time']}x real time, "
          f"peak RSS {an['peak_rss_mb']} MB"
          + (f" + emotion worker {an['emotion_worker_peak_rss_mb']} MB (shared libraries "
             "counted twice)" if an["emotion_worker_peak_rss_mb"] else ""))
    if an["peak_pss_total_mb"]:
        print(f"  memory of both processes (PSS, shared pages once): peak {an['peak_pss_total_mb']}"
              " MB of the readings")
    tl = [mb for _, mb in an["rss_timeline_mb"]]
    if len(tl) >= 4:
        q = len(tl) // 4
        print("  memory over the run (PSS MB, at 1/4, 1/2, 3/4, end): "
              + ", ".join(str(tl[min(len(tl) - 1, k * q)]) for k in (1, 2, 3, 4)))
    stages = sorted(an["timings"].items(), key=lambda kv: -kv[1])
    print("  stages (s): " + ", ".join(f"{k} {v:.1f}" for k, v in stages))
    acc = an.get("accuracy")
    if acc:
        print(f"  accuracy: ARI {acc['ari']}, students {acc['students_found']}/"
              f"{acc['students_true']}, exact names {acc['exact_names']}, detection recall "
              f"{acc['detection_recall']}, false positives {acc['false_positives']}")
    if "naive" in result:
        nv = result["naive"]
        print(f"naive: {nv['video_seconds']:.0f} s of video in {nv['wall_seconds']:.1f} s "
              f"(models loaded in {nv['load_seconds']:.1f} s, not counted) = "
              f"{nv['x_real_time']}x real time; per frame (s): "
              + ", ".join(f"{k} {v:.3f}" for k, v in nv["per_frame"].items()))
        print(f"speed-up of analyze over naive: {result['speedup']}x")
    print(f"written: {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
