"""Evaluate a report against the truth of a composed gallery (see :mod:`lecturelens.compose`).

Detection recall: for every sampled frame and every tile, is there a detected face whose
centre lies in that tile's video area? Track purity: within each stretch of time where a
tile shows one person, do all of that tile's faces belong to exactly one track, and does no
track span two tiles or two people?
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

from lecturelens.compose import tile_at


def read_observations(path: str | Path) -> list[dict]:
    """Rows of an ``observations.csv`` with numbers parsed."""
    rows = []
    with open(path, newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            rows.append({**r, "t": float(r["t"]), "track_id": int(r["track_id"]),
                         "cx": (float(r["x1"]) + float(r["x2"])) / 2,
                         "cy": (float(r["y1"]) + float(r["y2"])) / 2})
    return rows


def _tile_of(truth_t_tiles: list[dict], cx: float, cy: float) -> dict | None:
    for tile in truth_t_tiles:
        x, y, w, h = tile["video_rect"]
        if x <= cx < x + w and y <= cy < y + h:
            return tile
    return None


def evaluate_detection(report_dir: str | Path, truth: dict) -> dict:
    """Detection recall, false positives and track/tile consistency of one report.

    Args:
        report_dir: ``OUTDIR/<video>/`` holding ``observations.csv``.
        truth: the composed gallery's truth dict.

    Returns:
        ``recall`` (found tile-frames / all tile-frames), ``frames``, ``missed`` (list of
        ``(t, tile)``), ``false_positives`` (faces outside every tile), and
        ``tracks_per_tile_segment``, ``tiles_per_track``, ``people_per_track`` (ideally all 1;
        a person who stays in the same tile across a reshuffle may keep one track).
    """
    obs = read_observations(Path(report_dir) / "observations.csv")
    by_t: dict[float, list[dict]] = defaultdict(list)
    for r in obs:
        by_t[r["t"]].append(r)
    times = sorted(by_t)
    # A sampled frame with no face at all leaves no row; run.json knows how many were sampled.
    run_file = Path(report_dir) / "run.json"
    sampled = json.loads(run_file.read_text())["frames_sampled"] if run_file.exists() else 0
    empty_frames = max(0, sampled - len(times))
    found = total = false_pos = 0
    missed = []
    tracks_of: dict[tuple, set] = defaultdict(set)
    tiles_of: dict[int, set] = defaultdict(set)
    people_of: dict[int, set] = defaultdict(set)
    for t in times:
        tiles = list(tile_at(truth, t))
        hit = set()
        for r in by_t[t]:
            tile = _tile_of(tiles, r["cx"], r["cy"])
            if tile is None:
                false_pos += 1
                continue
            hit.add(tile["tile"])
            seg = next(i for i, s in enumerate(truth["segments"]) if s["start"] <= t < s["end"]
                       or i == len(truth["segments"]) - 1)
            tracks_of[(seg, tile["tile"])].add(r["track_id"])
            tiles_of[r["track_id"]].add(tile["tile"])
            people_of[r["track_id"]].add(tile["person"])
        total += len(tiles)
        found += len(hit)
        missed += [(t, tile["tile"]) for tile in tiles if tile["tile"] not in hit]
    n_tiles = truth["grid"][0] * truth["grid"][1]
    total += empty_frames * n_tiles
    return {
        "frames": len(times) + empty_frames,
        "recall": found / total if total else 0.0,
        "missed": missed,
        "false_positives": false_pos,
        "tracks_per_tile_segment": {f"{k[0]}:{k[1]}": len(v) for k, v in sorted(tracks_of.items())},
        "tiles_per_track": {k: len(v) for k, v in sorted(tiles_of.items())},
        "people_per_track": {k: len(v) for k, v in sorted(people_of.items())},
    }
