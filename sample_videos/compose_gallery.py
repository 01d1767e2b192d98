#!/usr/bin/env python3
"""Compose a Zoom-like gallery recording of real faces, with a truth file beside it.

Examples:
    python sample_videos/compose_gallery.py                      # 3x4, 60 s -> gallery_3x4.mp4
    python sample_videos/compose_gallery.py --rows 5 --cols 5 --duration 120 --reshuffle 40,80

Faces come from ${LECTURELENS_DATA:-../shared/data}/videos; without that folder, from
scikit-image's astronaut photo. Generated videos are git-ignored: never commit them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lecturelens.compose import compose_gallery, face_videos, truth_path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-o", "--output", type=Path, help="output .mp4 "
                   "(default: sample_videos/gallery_<rows>x<cols>.mp4)")
    p.add_argument("--rows", type=int, default=3)
    p.add_argument("--cols", type=int, default=4)
    p.add_argument("--duration", type=float, default=60.0, help="seconds (default 60)")
    p.add_argument("--fps", type=float, default=25.0)
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--height", type=int, default=720)
    p.add_argument("--reshuffle", default="", help="comma-separated times (s) at which tiles "
                   "are reshuffled, e.g. 20,40")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", type=Path, help="data folder holding videos/ "
                   "(default: $LECTURELENS_DATA or ../shared/data)")
    p.add_argument("-q", "--quiet", action="store_true")
    args = p.parse_args(argv)
    try:
        reshuffle = [float(x) for x in args.reshuffle.split(",") if x.strip()]
    except ValueError:
        p.error(f"--reshuffle: expected comma-separated seconds, got {args.reshuffle!r}")
    if args.rows < 1 or args.cols < 1 or args.duration <= 0:
        p.error("--rows, --cols and --duration must be positive")
    out = args.output or Path(__file__).parent / f"gallery_{args.rows}x{args.cols}.mp4"
    if not face_videos(args.data) and not args.quiet:
        print("no face videos found; using scikit-image's astronaut photo", file=sys.stderr)
    compose_gallery(out, rows=args.rows, cols=args.cols, duration=args.duration, fps=args.fps,
                    width=args.width, height=args.height, reshuffle=reshuffle, seed=args.seed,
                    data_root=args.data, progress=not args.quiet)
    if not args.quiet:
        print(f"wrote {out} and {truth_path(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
