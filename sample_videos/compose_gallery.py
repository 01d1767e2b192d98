#!/usr/bin/env python3
"""Compose a Zoom-like gallery recording of real faces, with a truth file beside it.

Examples:
    python sample_videos/compose_gallery.py                      # 3x4, 60 s -> gallery_3x4.mp4
    python sample_videos/compose_gallery.py --rows 5 --cols 5 --duration 120 --reshuffle 40,80
    python sample_videos/compose_gallery.py --hard               # -> gallery_3x4_hard.mp4
    python sample_videos/compose_gallery.py --camera-off 2:0-10 --absent 5:20-35 \\
        --screen-share 40-50 --strip-tiles 4
    python sample_videos/compose_gallery.py --skin zoom --tiles 16 --size 1280x720 --seed 3
    python sample_videos/compose_gallery.py --skin random --scripts latin --layout speaker

Skins: "classic" (the original look), "zoom", "teams", "meet" (randomised around the real
apps' looks: label size, colours, UI chrome, what people type around their names, low
bitrate) and "random" (one of the three, by seed).

Person indices (P) count from 0 in the order of the truth file's "people". Faces come from
${LECTURELENS_DATA:-../shared/data}/videos; without that folder, from scikit-image's
astronaut photo. Generated videos are git-ignored: never commit them.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from lecturelens.dev.compose import compose_gallery, face_videos, truth_path

_NUM = r"\s*(\d+(?:\.\d*)?|\.\d+)\s*"
_SPAN = re.compile(rf"^{_NUM}-{_NUM}$")
_PERSON_SPAN = re.compile(rf"^\s*(\d+)\s*:{_NUM}-{_NUM}$")
_SIZE = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$")


def _size(text: str) -> tuple[int, int]:
    m = _SIZE.match(text)
    if not m or int(m[1]) < 64 or int(m[2]) < 64:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT (at least 64x64), "
                                         f"got {text!r}")
    return int(m[1]), int(m[2])


def _scripts(text: str) -> tuple[str, ...]:
    from lecturelens.dev.skins import SCRIPTS

    items = tuple(x.strip() for x in text.split(",") if x.strip())
    bad = [x for x in items if x not in SCRIPTS]
    if not items or bad:
        raise argparse.ArgumentTypeError(f"expected comma-separated scripts from "
                                         f"{', '.join(SCRIPTS)}, got {text!r}")
    return items


def _span(text: str) -> tuple[float, float]:
    m = _SPAN.match(text)
    if not m or float(m[1]) >= float(m[2]):
        raise argparse.ArgumentTypeError(f"expected START-END in seconds with START < END, "
                                         f"got {text!r}")
    return float(m[1]), float(m[2])


def _person_span(text: str) -> tuple[int, float, float]:
    m = _PERSON_SPAN.match(text)
    if not m or float(m[2]) >= float(m[3]):
        raise argparse.ArgumentTypeError(f"expected P:START-END (person index, seconds, "
                                         f"START < END), got {text!r}")
    return int(m[1]), float(m[2]), float(m[3])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-o", "--output", type=Path, help="output .mp4 "
                   "(default: sample_videos/gallery_<rows>x<cols>[_hard].mp4)")
    p.add_argument("--rows", type=int, default=3)
    p.add_argument("--cols", type=int, default=4)
    p.add_argument("--duration", type=float, default=60.0, help="seconds (default 60)")
    p.add_argument("--fps", type=float, default=25.0)
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--height", type=int, default=720)
    p.add_argument("--size", type=_size, metavar="WxH", help="frame size, e.g. 640x360 "
                   "(instead of --width/--height)")
    p.add_argument("--skin", default="classic",
                   choices=["classic", "zoom", "teams", "meet", "random"],
                   help="look of the meeting app (default classic)")
    p.add_argument("--layout", default="gallery", choices=["gallery", "speaker",
                                                             "screen_share"],
                   help="gallery, speaker view (big tile + filmstrip) or a screen share "
                   "for the whole video")
    p.add_argument("--tiles", type=int, metavar="N", help="participants (the app picks the "
                   "grid; instead of --rows/--cols)")
    p.add_argument("--scripts", type=_scripts, metavar="S[,S...]", help="scripts of the "
                   "generated names: latin, korean, chinese, cyrillic, arabic (default: a "
                   "mix for app skins, the built-in list for classic)")
    p.add_argument("--reshuffle", default="", help="comma-separated times (s) at which tiles "
                   "are reshuffled, e.g. 20,40")
    p.add_argument("--camera-off", type=_person_span, action="append", default=[],
                   metavar="P:START-END", help="person P shows only their name from START "
                   "to END seconds (repeatable)")
    p.add_argument("--absent", type=_person_span, action="append", default=[],
                   metavar="P:START-END", help="person P leaves the meeting from START to END "
                   "and rejoins in another tile (repeatable)")
    p.add_argument("--screen-share", type=_span, action="append", default=[],
                   metavar="START-END", help="a slide fills the frame with a strip of small "
                   "tiles on top (repeatable)")
    p.add_argument("--strip-tiles", type=int, default=6, metavar="N",
                   help="tiles in the screen-share strip (default 6)")
    p.add_argument("--hard", action="store_true", help="add the hard-case schedule: two "
                   "reshuffles, two cameras off, one leave/rejoin, one screen share")
    p.add_argument("--shuffle-start", action="store_true",
                   help="start in a seeded random tile order (another lecture of the class)")
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
    if args.tiles is not None and args.tiles < 1:
        p.error("--tiles must be positive")
    width, height = args.size or (args.width, args.height)
    if args.strip_tiles < 0:
        p.error("--strip-tiles must not be negative")
    n_people = args.tiles or args.rows * args.cols
    for opt, items in (("--camera-off", args.camera_off), ("--absent", args.absent)):
        for person, _, _ in items:
            if person >= n_people:
                p.error(f"{opt}: person {person} out of range 0..{n_people - 1}")
    suffix = "_hard" if args.hard else ""
    shape = f"{args.tiles}t" if args.tiles else f"{args.rows}x{args.cols}"
    if args.skin != "classic":
        suffix = f"_{args.skin}_s{args.seed}" + suffix
    out = args.output or Path(__file__).parent / f"gallery_{shape}{suffix}.mp4"
    if not face_videos(args.data) and not args.quiet:
        print("no face videos found; using scikit-image's astronaut photo", file=sys.stderr)
    try:
        compose_gallery(out, rows=args.rows, cols=args.cols, duration=args.duration,
                        fps=args.fps, width=width, height=height,
                        reshuffle=reshuffle, seed=args.seed, data_root=args.data,
                        progress=not args.quiet, camera_off=args.camera_off,
                        absent=args.absent, screen_share=args.screen_share,
                        strip_tiles=args.strip_tiles, scenario="hard" if args.hard else None,
                        shuffle_start=args.shuffle_start, skin=args.skin,
                        layout=args.layout, scripts=args.scripts, tiles=args.tiles)
    except ValueError as exc:  # a schedule that cannot be composed, e.g. everyone absent
        p.error(str(exc))
    if not args.quiet:
        print(f"wrote {out} and {truth_path(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
