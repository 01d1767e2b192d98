#!/usr/bin/env python3
"""Label reading on one frame of many composed meeting screens: found, exact, close.

    LECTURELENS_DATA=../shared/data .venv/bin/python bench/labels_eval.py \\
        --seeds 0-3 --skins zoom,teams,meet --sizes 640x360,1000x624,1280x720,1920x1080

For every seed, skin and size a 2 s still meeting is composed (cached in ``bench/videos/``,
git-ignored) with :func:`lecturelens.dev.compose.compose_gallery` (random people, names and
label decorations), one frame is decoded, and :class:`lecturelens.names.NameReader` finds and
reads its labels, as the pipeline's first round does. Each camera-on tile's printed label
(truth ``label_rect``) is scored against the text boxes that lie in it:

* ``found``: some text box lies on the label;
* ``exact``: the reading (boxes left to right, :func:`normalise_name`) equals the printed
  name with its decorations removed (``normalise_name`` of the printed text);
* ``close``: equal by :func:`lecturelens.dev.skins.close_key` (case, spaces, accents,
  ``(...)``, digits and ``...`` ignored), the issue's measure for real screenshots.

Camera-off names (the large centred ones) are scored as ``off~``. ``s/frame`` is the wall
time of find + read. This measures the reader alone: the pipeline's rounds, votes over
frames and roster are in ``bench/names_eval.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _range(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out.extend(range(int(a), int(b or a) + 1))
    return out


def _frame(video: Path, t: float):
    import cv2

    cap = cv2.VideoCapture(str(video))
    cap.set(cv2.CAP_PROP_POS_MSEC, t * 1000)
    ok, bgr = cap.read()
    cap.release()
    if not ok:
        raise RuntimeError(f"cannot decode {video}")
    return bgr[:, :, ::-1].copy()


def _inside(box, rect, slack: float = 0.5) -> bool:
    """The text box's centre lies in the label rectangle grown by ``slack`` of its height."""
    x, y, w, h = rect
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    m = slack * h
    return x - m <= cx <= x + w + m and y - m <= cy <= y + h + m


def evaluate(seed: int, skin: str, size: str, tiles: range, scripts, reader, out_dir: Path,
             details: bool) -> dict:
    import random

    from lecturelens.dev.compose import compose_gallery, load_truth, segment_at
    from lecturelens.dev.skins import close_key
    from lecturelens.names import normalise_name

    w, h = (int(v) for v in size.split("x"))
    n = random.Random(seed * 7919 + w).choice(list(tiles))
    tag = "-".join(scripts) if scripts else "mixed"
    video = out_dir / f"labels_{skin}_{w}x{h}_s{seed}_n{n}_{tag}.mp4"
    if not video.exists() or not video.with_suffix("").with_suffix(".truth.json").exists():
        compose_gallery(video, duration=2.0, fps=5, width=w, height=h, seed=seed, skin=skin,
                        tiles=n, scripts=scripts)
    truth = load_truth(video)
    rgb = _frame(video, 1.0)
    seg = segment_at(truth, 1.0)
    t0 = time.perf_counter()
    labels = reader.read(rgb, reader.find(rgb))
    secs = time.perf_counter() - t0
    row = {"seed": seed, "skin": skin, "size": size, "tiles": n, "secs": secs,
           "on": 0, "found": 0, "exact": 0, "close": 0, "off": 0, "off_close": 0,
           "misses": []}
    for tile in seg["tiles"]:
        rect, printed = tile.get("label_rect"), tile.get("label") or ""
        if not rect or not printed:
            continue
        hits = sorted((lb for lb in labels if _inside(lb.box, rect)), key=lambda lb: lb.box[0])
        got = normalise_name(" ".join(lb.text for lb in hits if lb.text))
        want = normalise_name(printed)
        close = bool(got) and close_key(got) == close_key(printed)
        if tile.get("camera") == "on":
            row["on"] += 1
            row["found"] += bool(hits)
            row["exact"] += got == want
            row["close"] += close
            if got != want:
                row["misses"].append((printed, got, tile.get("label_px")))
        else:
            row["off"] += 1
            row["off_close"] += close
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="0-1")
    ap.add_argument("--skins", default="zoom,teams,meet")
    ap.add_argument("--sizes", default="640x360,1000x624,1280x720,1920x1080")
    ap.add_argument("--tiles", default="4-25", help="participants drawn from this range")
    ap.add_argument("--scripts", default="latin",
                    help="comma-separated scripts of the names ('mixed': all)")
    ap.add_argument("--lang", default="auto", help="--ocr-lang for the reader")
    ap.add_argument("--details", action="store_true", help="list every misread label")
    ap.add_argument("--json", help="write the rows as JSON")
    args = ap.parse_args()

    from lecturelens.names import NameReader

    a, _, b = args.tiles.partition("-")
    tiles = range(int(a), int(b or a) + 1)
    scripts = None if args.scripts == "mixed" else args.scripts.split(",")
    out_dir = ROOT / "bench" / "videos"
    out_dir.mkdir(parents=True, exist_ok=True)
    reader = NameReader(lang=args.lang)
    rows = []
    for seed in _range(args.seeds):
        for skin in args.skins.split(","):
            for size in args.sizes.split(","):
                row = evaluate(seed, skin, size, tiles, scripts, reader, out_dir, args.details)
                rows.append(row)
                pct = lambda k: 100.0 * row[k] / max(1, row["on"])  # noqa: E731
                print(f"{skin:6s} {size:>9s} s{seed} n={row['tiles']:2d}  found "
                      f"{pct('found'):5.1f}  exact {pct('exact'):5.1f}  close "
                      f"{pct('close'):5.1f}  off~ {row['off_close']}/{row['off']}  "
                      f"{row['secs']:.2f} s", flush=True)
                if args.details:
                    for printed, got, px in row["misses"]:
                        print(f"      {px}px  {printed!r:40s} -> {got!r}")

    def pooled(rs, label):
        on = sum(r["on"] for r in rs) or 1
        print(f"{label:18s} labels {on:4d}  found {100 * sum(r['found'] for r in rs) / on:5.1f}"
              f"  exact {100 * sum(r['exact'] for r in rs) / on:5.1f}  close "
              f"{100 * sum(r['close'] for r in rs) / on:5.1f}  off~ "
              f"{sum(r['off_close'] for r in rs)}/{sum(r['off'] for r in rs)}  s/frame "
              f"{sum(r['secs'] for r in rs) / len(rs):.2f}")

    print()
    for key, values in (("skin", args.skins.split(",")), ("size", args.sizes.split(","))):
        for v in values:
            pooled([r for r in rows if r[key] == v], f"{key} {v}")
    pooled(rows, "all")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
