#!/usr/bin/env python3
"""Name reading and "who is who" over many composed meetings: one table, seeds x skins.

    .venv/bin/python bench/names_eval.py                       # 2 seeds x 4 skins, 20 s each
    .venv/bin/python bench/names_eval.py --seeds 0-7 --skins zoom,teams,meet,classic \\
        --duration 20 --sizes 640x360,960x540,1280x720 --tiles 4-25 --jobs 1
    .venv/bin/python bench/names_eval.py --reuse --details    # re-evaluate cached reports

For every seed and skin:

1. composes (once; cached in ``bench/videos/``, git-ignored) a meeting recording with
   :func:`lecturelens.dev.compose.compose_gallery`: the seed picks the frame size (from
   ``--sizes``), the number of participants (``--tiles``), their names (a mix of scripts,
   the same people for every skin of one seed) and what they typed around them; the skin
   picks the look. The ``hard`` scenario (default) adds reshuffles, cameras off, a leave
   and rejoin and a screen share.
2. runs ``lecturelens.pipeline.analyze`` on it without emotions, eyes and GIFs (name
   reading and people are what is measured), then again with a roster of the true
   canonical names plus 8 look-alike distractors (one letter changed, a shared family
   name). Reports go to ``bench/results/names/`` (git-ignored).
3. scores both reports against the truth (:mod:`lecturelens.dev.evaluate`).

Prints one table, a row per meeting and a mean row:

* ``faces%``: camera-on tile-frames with a face found (detection recall);
* ``lab=%``: people whose label was read exactly as printed (``ocr_name``, before roster);
* ``lab~%``: read the same up to case, spaces, accents, ``(...)``, digits and ``...``;
* ``ARI``: adjusted Rand index of faces -> students against faces -> people;
* ``stud``: students reported / people in the meeting;
* ``name%``: people whose student carries exactly their canonical name (no roster);
* ``rost%``: the same with the roster;
* ``ocr%``: share of the wall time spent in name OCR (run.json ``timing_shares.ocr``);
* ``xRT``: seconds of video per second of wall time (no roster run).

``--json PATH`` writes every row with per-person details (``-`` prints JSON instead of the
table). Videos are composed at ``--fps`` (default 10: the pipeline samples 1 frame/s).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VIDEOS = ROOT / "bench" / "videos"
RESULTS = ROOT / "bench" / "results" / "names"
DEFAULT_SIZES = "640x360,960x540,1280x720"


def _int_range(text: str) -> list[int]:
    """``0-7`` or ``0,3,5`` or ``2``."""
    out = []
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)\s*-\s*(\d+)", part)
        if m:
            a, b = int(m[1]), int(m[2])
            if a > b:
                raise argparse.ArgumentTypeError(f"empty range {part!r}")
            out += list(range(a, b + 1))
        elif part.isdigit():
            out.append(int(part))
        elif part:
            raise argparse.ArgumentTypeError(f"expected numbers or ranges like 0-7, got {text!r}")
    if not out:
        raise argparse.ArgumentTypeError("no numbers given")
    return out


def _sizes(text: str) -> list[tuple[int, int]]:
    out = []
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", part)
        if not m or int(m[1]) % 2 or int(m[2]) % 2:
            raise argparse.ArgumentTypeError(f"expected even WxH sizes like 640x360, got "
                                             f"{part!r}")
        out.append((int(m[1]), int(m[2])))
    return out


def gallery_specs(args) -> list[dict]:
    """One spec per (seed, skin): size and tile count depend on the seed only, so the
    skins of one seed show the same people at the same size and differ only in look."""
    lo, hi = min(args.tiles), max(args.tiles)
    specs = []
    for seed in args.seeds:
        rng = random.Random(f"names-eval-{seed}")
        width, height = rng.choice(args.sizes)
        tiles = rng.randint(lo, hi)
        for skin in args.skins:
            stem = (f"names_s{seed}_{skin}_{width}x{height}_{tiles}t_{args.duration:g}s_"
                    f"{args.fps:g}fps_{args.layout}_{args.scenario}"
                    + ("" if args.scripts is None else "_" + "-".join(args.scripts)))
            specs.append({"seed": seed, "skin": skin, "width": width, "height": height,
                          "tiles": tiles, "stem": stem})
    return specs


def compose(spec: dict, args) -> tuple[Path, dict]:
    """The spec's video and truth, composed unless cached."""
    from lecturelens.dev.compose import compose_gallery, load_truth, truth_path
    from lecturelens.dev.skins import SCRIPTS

    video = VIDEOS / f"{spec['stem']}.mp4"
    if video.is_file() and truth_path(video).is_file() and not args.recompose:
        return video, load_truth(video)
    print(f"[{spec['stem']}] composing", file=sys.stderr, flush=True)
    from lecturelens.dev.compose import data_dir, face_videos

    if not face_videos():
        # The astronaut fallback gives every participant one face: identity and the
        # tracker's appearance gate cannot tell anyone apart, and the table measures that.
        sys.exit(f"no face videos in {data_dir() / 'videos'}: set LECTURELENS_DATA to the "
                 "shared data folder")
    truth = compose_gallery(
        video, duration=args.duration, fps=args.fps, width=spec["width"],
        height=spec["height"], seed=spec["seed"], skin=spec["skin"], tiles=spec["tiles"],
        layout=args.layout, scripts=tuple(args.scripts or SCRIPTS),
        scenario=None if args.scenario == "none" else args.scenario,
        # Classic labels carry what people type too: the skins then differ only in look.
        decorate=True)
    return video, truth


def write_roster(spec: dict, truth: dict) -> Path:
    """The true canonical names plus 8 look-alike distractors, shuffled, as a CSV."""
    from lecturelens.dev.skins import NameInfo, lookalike_names

    infos = [NameInfo(p["name"], p.get("script", "latin"), p.get("culture", ""),
                      p.get("given", ""), p.get("family", "")) for p in truth["people"]]
    names = [i.name for i in infos]
    rows = names + lookalike_names(names, 8, seed=spec["seed"], infos=infos)
    random.Random(f"roster-{spec['seed']}").shuffle(rows)
    path = RESULTS / f"{spec['stem']}.roster.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["name"])
        w.writerows([r] for r in rows)
    return path


def _analyze(video: Path, name: str, args, roster: Path | None = None) -> dict:
    """``analyze`` into ``RESULTS/<name>`` (or the cached run with ``--reuse``)."""
    from lecturelens.config import AnalyzeConfig
    from lecturelens.pipeline import analyze

    run_file = RESULTS / name / "run.json"
    if args.reuse and run_file.is_file():
        run = json.loads(run_file.read_text())
        if run.get("status") == "ok":
            return run
    config = AnalyzeConfig(emotion_model="none", eye_model="none", gifs="none",
                           threads=args.threads, roster=str(roster) if roster else "",
                           **({"ocr_budget": args.ocr_budget} if args.ocr_budget else {}))
    print(f"[{name}] analyzing", file=sys.stderr, flush=True)
    return analyze(video, RESULTS, config, progress=False, name=name)


def run_one(spec: dict, args) -> dict:
    """Compose, analyse (without and with roster) and score one meeting: a table row."""
    from lecturelens.dev.evaluate import evaluate_detection, evaluate_names, evaluate_people

    row = {k: spec[k] for k in ("seed", "skin", "width", "height", "tiles", "stem")}
    try:
        video, truth = compose(spec, args)
        row["skin_params"] = truth.get("skin")
        if spec["skin"] == "random":  # show which app the seed picked
            row["skin"] = "r:" + truth["skin"]["name"]
        run = _analyze(video, spec["stem"], args)
        report = RESULTS / spec["stem"]
        det = evaluate_detection(report, truth)
        ppl = evaluate_people(report, truth)
        nam = evaluate_names(report, truth)
        row.update({
            "faces": det["recall"], "label_exact": nam["label_exact"],
            "label_close": nam["label_close"], "ari": ppl["ari"],
            "students_found": nam["students_found"], "students_true": nam["students_true"],
            "names_exact": nam["names_exact"],
            "ocr_share": (run.get("timing_shares") or {}).get("ocr"),
            "x_real_time": run.get("x_real_time"), "ui_students": nam["ui_students"],
            "people": nam["people"],
        })
        if not args.no_roster:
            roster = write_roster(spec, truth)
            _analyze(video, spec["stem"] + "_roster", args, roster)
            ros = evaluate_names(RESULTS / (spec["stem"] + "_roster"), truth)
            row["names_exact_roster"] = ros["names_exact"]
            row["people_roster"] = ros["people"]
    except Exception as exc:  # one broken meeting must not lose the others' rows
        row["error"] = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    return row


COLUMNS = [("seed", 4), ("skin", 7), ("size", 9), ("tiles", 5), ("faces%", 6), ("lab=%", 6),
           ("lab~%", 6), ("ARI", 6), ("stud", 9), ("name%", 6), ("rost%", 6), ("ocr%", 5),
           ("xRT", 5)]


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.1f}"


def _cells(r: dict) -> list[str]:
    if "error" in r:
        return [str(r["seed"]), r["skin"], f"{r['width']}x{r['height']}", str(r["tiles"]),
                "ERROR: " + r["error"][:60]]
    stud = (f"{r['students_found']:g}/{r['students_true']:g}"
            if isinstance(r["students_found"], int)
            else f"{r['students_found']:.1f}/{r['students_true']:.1f}")
    return [str(r["seed"]), r["skin"],
            r["size"] if "size" in r else f"{r['width']}x{r['height']}", f"{r['tiles']:g}",
            _pct(r["faces"]), _pct(r["label_exact"]), _pct(r["label_close"]),
            f"{r['ari']:.3f}", stud, _pct(r["names_exact"]),
            _pct(r.get("names_exact_roster")), _pct(r.get("ocr_share")),
            "-" if r.get("x_real_time") is None else f"{r['x_real_time']:.1f}"]


def mean_row(rows: list[dict]) -> dict | None:
    """The mean of the rows that ran (errors left out)."""
    ok = [r for r in rows if "error" not in r]
    if not ok:
        return None

    def mean(key):
        vals = [r[key] for r in ok if r.get(key) is not None]
        return sum(vals) / len(vals) if vals else None

    return {"seed": "mean", "skin": f"n={len(ok)}", "size": "-", "tiles": mean("tiles"),
            **{k: mean(k) for k in ("faces", "label_exact", "label_close", "ari",
                                     "students_found", "students_true", "names_exact",
                                     "names_exact_roster", "ocr_share", "x_real_time")}}


def format_table(rows: list[dict]) -> str:
    """The printed table: a header, one line per meeting, the mean."""
    lines = ["  ".join(name.ljust(w) for name, w in COLUMNS).rstrip()]
    body = rows + ([m] if (m := mean_row(rows)) else [])
    for r in body:
        cells = _cells(r)
        lines.append("  ".join(c.ljust(w) for c, (_, w) in zip(cells, COLUMNS)).rstrip())
    return "\n".join(lines)


def format_details(rows: list[dict]) -> str:
    """Per meeting, the people whose label was not read exactly: printed vs read."""
    out = []
    for r in rows:
        if "error" in r:
            continue
        bad = [(pid, p) for pid, p in r["people"].items() if not p["label_exact"]]
        px = (r.get("skin_params") or {}).get("label_px", "-")
        out.append(f"# seed {r['seed']} {r['skin']} {r['width']}x{r['height']} "
                   f"(label {px} px): {len(bad)} of {len(r['people'])} labels not read "
                   "exactly")
        if r.get("ui_students"):
            out.append(f"  screen text taken for students: {r['ui_students']}")
        for pid, p in bad:
            label = p["labels"][0] if p["labels"] else ""
            out.append(f"  {pid:14s} printed {label!r:40s} read {p['ocr_name']!r}"
                       f"{'' if p['seen'] else ' (never on camera)'}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=_int_range, default=[0, 1], help="e.g. 0-7 (default 0-1)")
    p.add_argument("--skins", default="zoom,teams,meet,classic",
                   help="comma-separated: zoom, teams, meet, classic, random")
    p.add_argument("--duration", type=float, default=20.0, help="seconds per meeting")
    p.add_argument("--fps", type=float, default=10.0, help="frame rate of composed videos")
    p.add_argument("--sizes", type=_sizes, default=_sizes(DEFAULT_SIZES),
                   help=f"frame sizes drawn from (default {DEFAULT_SIZES})")
    p.add_argument("--tiles", type=_int_range, default=[4, 25],
                   help="participants drawn from this range (default 4-25)")
    p.add_argument("--layout", default="gallery", choices=["gallery", "speaker",
                                                             "screen_share"])
    p.add_argument("--scenario", default="hard", choices=["hard", "none"],
                   help="hard: reshuffles, cameras off, leave/rejoin, a screen share")
    p.add_argument("--scripts", help="comma-separated scripts of the names (default: all "
                   "installed, mixed)")
    p.add_argument("--jobs", type=int, default=1, help="meetings processed at once")
    p.add_argument("--threads", type=int, default=1, help="torch threads per analysis")
    p.add_argument("--ocr-budget", type=float, default=None,
                   help="--ocr-budget of the analyses (default: analyze's)")
    p.add_argument("--no-roster", action="store_true", help="skip the roster runs")
    p.add_argument("--reuse", action="store_true", help="score cached reports instead of "
                   "analysing again (after a code change, leave this off)")
    p.add_argument("--recompose", action="store_true", help="compose videos again")
    p.add_argument("--details", action="store_true", help="list the misread labels")
    p.add_argument("--json", metavar="PATH", help="write rows and details as JSON "
                   "('-': print JSON instead of the table)")
    args = p.parse_args(argv)
    args.skins = [s.strip() for s in args.skins.split(",") if s.strip()]
    known = {"zoom", "teams", "meet", "classic", "random"}
    if not args.skins or set(args.skins) - known:
        p.error(f"--skins: expected some of {', '.join(sorted(known))}")
    if args.scripts:
        args.scripts = [s.strip() for s in args.scripts.split(",") if s.strip()]
    if args.duration <= 0 or args.jobs < 1:
        p.error("--duration and --jobs must be positive")
    specs = gallery_specs(args)
    started = time.time()
    if args.jobs == 1:
        rows = [run_one(s, args) for s in specs]
    else:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            rows = list(pool.map(run_one, specs, [args] * len(specs)))
    table = format_table(rows)
    if args.json:
        doc = {"args": {k: v for k, v in vars(args).items()}, "rows": rows,
               "mean": mean_row(rows), "table": table,
               "wall_seconds": round(time.time() - started, 1)}
        text = json.dumps(doc, ensure_ascii=False, indent=1, default=str)
        if args.json == "-":
            print(text)
            return 0
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text, encoding="utf-8")
    print(table)
    if args.details:
        print()
        print(format_details(rows))
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
