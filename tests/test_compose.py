import importlib.util
import re
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from lecturelens.dev.compose import (
    DEFAULT_NAMES, TILE_BG, compose_gallery, font_renders, gallery_rects, gallery_shape,
    grid_rects, hard_case_schedule, load_truth, screen_share_layout, tile_at, truth_path,
)
from lecturelens.ingest import probe


def test_grid_rects_fit_and_do_not_overlap():
    rects = grid_rects(3, 4, 1280, 720)
    assert len(rects) == 12
    for x, y, w, h in rects:
        assert 0 <= x and x + w <= 1280 and 0 <= y and y + h <= 720
        assert w / h == pytest.approx(16 / 9, rel=0.02)
    for i, a in enumerate(rects):
        for b in rects[i + 1:]:
            assert a[0] + a[2] <= b[0] or b[0] + b[2] <= a[0] or \
                a[1] + a[3] <= b[1] or b[1] + b[3] <= a[1]


def test_astronaut_fallback_video_and_truth(tmp_path):
    out = tmp_path / "g.mp4"
    truth = compose_gallery(out, rows=2, cols=3, duration=3.0, fps=10, width=640, height=360,
                            reshuffle=[1.5], seed=3, data_root=tmp_path / "no-data")
    info = probe(out)
    assert (info.width, info.height, info.codec) == (640, 360, "h264")
    assert info.duration == pytest.approx(3.0, abs=0.15)
    assert json.loads(truth_path(out).read_text()) == load_truth(out) == truth
    assert truth["source"] == "astronaut" and len(truth["people"]) == 6
    s0, s1 = truth["segments"]
    assert (s0["start"], s0["end"], s1["start"], s1["end"]) == (0.0, 1.5, 1.5, 3.0)
    assert [t["person"] for t in s0["tiles"]] != [t["person"] for t in s1["tiles"]]
    assert sorted(t["person"] for t in s0["tiles"]) == sorted(t["person"] for t in s1["tiles"])
    assert [t["tile"] for t in tile_at(truth, 2.0)] == list(range(6))
    assert next(tile_at(truth, 2.0))["person"] == s1["tiles"][0]["person"]
    assert not list(tmp_path.glob(".*partial*"))


def test_name_label_is_white_on_dark_at_bottom_left(tmp_path):
    out = tmp_path / "g.mp4"
    truth = compose_gallery(out, rows=1, cols=2, duration=1.0, fps=5, width=640, height=360,
                            data_root=tmp_path / "no-data")
    ok, bgr = cv2.VideoCapture(str(out)).read()
    assert ok
    x, y, w, h = truth["segments"][0]["tiles"][0]["rect"]
    label = bgr[y + int(h * 0.8):y + h, x:x + w // 2]
    assert (label.min(axis=2) > 200).sum() > 20  # white text pixels
    top_right = bgr[y:y + h // 5, x + w - w // 8:x + w]
    assert top_right.max() < 80  # dark tile background


def test_uses_real_face_videos_when_present(tmp_path, shared_videos):
    out = tmp_path / "real.mp4"
    truth = compose_gallery(out, rows=1, cols=2, duration=1.0, fps=5, width=640, height=360)
    assert truth["source"] == "videos"
    assert [p["source"] for p in truth["people"]] == [v.name for v in shared_videos[:2]]


def test_needs_enough_names(tmp_path):
    with pytest.raises(ValueError, match="names"):
        compose_gallery(tmp_path / "x.mp4", rows=2, cols=2, duration=1, names=["A", "B"])


# --- hard cases for "who is who" -------------------------------------------------------------

NO_DATA = Path("/nonexistent")


def _frames(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            return frames
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def _crop(frame: np.ndarray, rect, shrink: float = 0.0) -> np.ndarray:
    x, y, w, h = rect
    dx, dy = int(w * shrink), int(h * shrink)
    return frame[y + dy:y + h - dy, x + dx:x + w - dx]


def _no_overlap(rects) -> bool:
    return all(a[0] + a[2] <= b[0] or b[0] + b[2] <= a[0] or a[1] + a[3] <= b[1]
               or b[1] + b[3] <= a[1] for i, a in enumerate(rects) for b in rects[i + 1:])


def test_default_names_distinct_with_accents_the_font_draws():
    assert len(DEFAULT_NAMES) >= 25 and len(set(DEFAULT_NAMES)) == len(DEFAULT_NAMES)
    accented = [n for n in DEFAULT_NAMES if not n.isascii()]
    assert {"José Muñoz", "Léa Dubois", "Chloé Martin", "Zoë Adams",
            "Ana García"} <= set(accented)
    assert all(ord(c) < 256 for n in DEFAULT_NAMES for c in n)  # Latin-1
    if not font_renders("é"):
        pytest.skip("no DejaVu Sans here: accented names are folded to ASCII")
    assert all(font_renders(n) for n in DEFAULT_NAMES)
    assert not font_renders("\U000F0001")


def test_gallery_shape_and_partial_row_centred():
    assert gallery_shape(12, 1280, 720) == (3, 4)
    assert gallery_shape(11, 1280, 720) == (3, 4)  # keeps the columns, one cell empty
    assert gallery_shape(8, 1280, 720) == (3, 3)
    assert gallery_shape(1, 1280, 720) == (1, 1)
    rects = gallery_rects(5, 2, 3, 1280, 720)
    assert len(rects) == 5 and _no_overlap(rects)
    full = grid_rects(2, 3, 1280, 720)
    assert rects[:3] == full[:3]
    (x3, _, w, _), (x4, _, _, _) = rects[3:]
    assert x3 > full[3][0] and (x3 + x4 + w) / 2 == pytest.approx(1280 / 2, abs=1)


def test_screen_share_layout_strip_of_small_tiles():
    strip, screen = screen_share_layout(6, 1280, 720)
    assert len(strip) == 6 and _no_overlap(strip + [screen])
    assert all(190 <= w <= 215 and 105 <= h <= 120 for _, _, w, h in strip)
    sx, sy, sw, sh = screen
    assert sw * sh > 0.5 * 1280 * 720 and sy >= max(y + h for _, y, _, h in strip)
    assert len(screen_share_layout(50, 1280, 720)[0]) < 50  # only what fits the width


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_hard_case_schedule(seed):
    d = 60.0
    s = hard_case_schedule(12, d, seed)
    assert s == hard_case_schedule(12, d, seed)
    assert len(s["reshuffle"]) == 2
    (pa, a0, a1), (pb, b0, b1) = s["camera_off"]
    assert pa != pb and a0 == 0.0
    assert all(0.1 * d <= e - st <= 0.2 * d for _, st, e in s["camera_off"])
    [(pc, c0, c1)] = s["absent"]
    assert pc not in (pa, pb)
    assert c0 == pytest.approx(0.4 * d, abs=0.03 * d) and c1 == pytest.approx(0.65 * d,
                                                                              abs=0.03 * d)
    [(s0, s1)] = s["screen_share"]
    assert 0.1 * d <= s1 - s0 <= 0.2 * d and s1 <= d
    assert s1 > s0 > c1 and a1 < c0  # the events do not all overlap
    assert hard_case_schedule(12, d, seed + 100) != s


def _check_segments(truth, cuts):
    segs = truth["segments"]
    assert segs[0]["start"] == 0.0 and segs[-1]["end"] == truth["duration"]
    assert all(a["end"] == b["start"] for a, b in zip(segs, segs[1:]))
    assert [s["start"] for s in segs[1:]] == sorted(cuts)
    for s in segs:
        assert s["layout"] in ("gallery", "screen_share")
        for tile in s["tiles"]:
            assert (tile["video_rect"] is None) == (tile["camera"] == "off")
        assert not {t["person"] for t in s["tiles"]} & set(s["absent"])


def test_explicit_events_split_segments_and_render(tmp_path):
    out = tmp_path / "ev.mp4"
    truth = compose_gallery(out, rows=2, cols=3, duration=4.0, fps=5, width=640, height=360,
                            seed=4, data_root=NO_DATA, reshuffle=[3.2],
                            camera_off=[(1, 0.0, 1.4)], absent=[(4, 1.0, 2.0)],
                            screen_share=[(2.4, 3.0)], strip_tiles=3)
    assert json.loads(truth_path(out).read_text()) == truth
    _check_segments(truth, {1.0, 1.4, 2.0, 2.4, 3.0, 3.2})
    people = truth["people"]
    assert [e["type"] for e in truth["events"]] == [
        "camera_off", "absent", "screen_share", "reshuffle"]
    off_id, gone_id = people[1]["person_id"], people[4]["person_id"]
    assert truth["events"][0]["person"] == off_id and truth["events"][1]["person"] == gone_id
    s0, s1, s2, s3, s4, s5, s6 = truth["segments"]
    assert [s["layout"] for s in truth["segments"]].count("screen_share") == 1
    assert s4["layout"] == "screen_share" and "grid" not in s4
    assert all(s["layout"] == "gallery" and "screen_rect" not in s for s in (s0, s1, s2, s3, s5))

    # camera off: no video area; the tile shows its background and the name, not a face
    off = next(t for t in s0["tiles"] if t["person"] == off_id)
    assert off["camera"] == "off" and off["video_rect"] is None
    assert all(t["camera"] == "on" for t in s0["tiles"] if t is not off)
    assert all(t["camera"] == "on" for t in s2["tiles"])
    frames = _frames(out)
    assert len(frames) == 20
    centre = _crop(frames[0], off["rect"], shrink=0.3).astype(int)
    near_bg = (np.abs(centre - TILE_BG).max(axis=2) < 25).mean()
    text = (centre.min(axis=2) > 180).sum()
    assert near_bg > 0.6 and text > 15
    face = _crop(frames[0], next(t for t in s0["tiles"] if t is not off)["video_rect"], 0.3)
    assert (np.abs(face.astype(int) - TILE_BG).max(axis=2) < 25).mean() < 0.2
    assert (_crop(frames[0], off["rect"])[-off["rect"][3] // 5:].min(axis=2) > 200).sum() > 10

    # leaving: one tile fewer, laid out anew; rejoining: the last tile
    assert len(s0["tiles"]) == 6 and len(s1["tiles"]) == len(s2["tiles"]) == 5
    for s in (s1, s2):
        assert gone_id in s["absent"] and gone_id not in {t["person"] for t in s["tiles"]}
    assert s1["tiles"][[t["person"] for t in s1["tiles"]].index(off_id)]["camera"] == "off"
    assert [t["rect"] for t in s2["tiles"]] != [t["rect"] for t in s0["tiles"][:5]]
    assert s2["grid"] == [2, 3]
    assert [t["person"] for t in s0["tiles"]].index(gone_id) != 5
    assert s3["absent"] == [] and s3["tiles"][-1]["person"] == gone_id

    # screen share: a strip of small tiles and a slide
    assert len(s4["tiles"]) == 3
    assert all(t["rect"][2] <= 640 / 5 and t["video_rect"] is not None for t in s4["tiles"])
    sx, sy, sw, sh = s4["screen_rect"]
    assert sw * sh > 0.5 * 640 * 360
    assert any("Lecture" in line or "Week" in line for line in s4["screen_text"])
    slide = _crop(frames[13], s4["screen_rect"], shrink=0.25)  # t = 2.6 s
    assert (slide.min(axis=2) > 200).mean() > 0.6  # light background
    assert (slide.max(axis=2) < 100).sum() > 50  # dark text
    assert [t["tile"] for t in tile_at(truth, 2.6)] == [0, 1, 2]
    assert len(list(tile_at(truth, 4.0))) == 6
    assert [t["person"] for t in s6["tiles"]] != [t["person"] for t in s5["tiles"]]


def test_hard_scenario_astronaut_fallback(tmp_path):
    out = tmp_path / "hard.mp4"
    truth = compose_gallery(out, rows=2, cols=3, duration=3.0, fps=5, width=640, height=360,
                            seed=5, data_root=NO_DATA, scenario="hard")
    assert truth["source"] == "astronaut"
    sched = hard_case_schedule(6, 3.0, 5)
    cuts = set(sched["reshuffle"])
    for _, s, e in sched["camera_off"] + sched["absent"]:
        cuts |= {s, e}
    for s, e in sched["screen_share"]:
        cuts |= {s, e}
    _check_segments(truth, {c for c in cuts if 0 < c < 3.0})
    kinds = [e["type"] for e in truth["events"]]
    assert sorted(kinds) == ["absent", "camera_off", "camera_off", "reshuffle", "reshuffle",
                             "screen_share"]
    first = truth["segments"][0]
    assert sum(t["camera"] == "off" for t in first["tiles"]) == 1
    assert any(s["absent"] for s in truth["segments"])
    assert [s["layout"] for s in truth["segments"]].count("screen_share") >= 1
    assert compose_gallery(tmp_path / "again.mp4", rows=2, cols=3, duration=3.0, fps=5,
                           width=640, height=360, seed=5, data_root=NO_DATA,
                           scenario="hard")["segments"] == truth["segments"]
    if font_renders("é"):
        assert any(not p["name"].isascii() for p in truth["people"])
    assert len({p["name"] for p in truth["people"]}) == 6


def test_event_validation(tmp_path):
    kw = dict(rows=1, cols=2, duration=2.0, fps=5, width=320, height=180, data_root=NO_DATA)
    with pytest.raises(ValueError, match="out of range"):
        compose_gallery(tmp_path / "a.mp4", camera_off=[(2, 0, 1)], **kw)
    with pytest.raises(ValueError, match="empty"):
        compose_gallery(tmp_path / "a.mp4", absent=[(0, 1, 1)], **kw)
    with pytest.raises(ValueError, match="everyone"):
        compose_gallery(tmp_path / "a.mp4", absent=[(0, 0, 1), (1, 0.5, 2)], **kw)
    with pytest.raises(ValueError, match="scenario"):
        compose_gallery(tmp_path / "a.mp4", scenario="easy", **kw)
    with pytest.raises(ValueError, match="differ"):
        compose_gallery(tmp_path / "a.mp4", names=["Ann", "Ann"], **kw)
    assert not list(tmp_path.iterdir())


def test_mirrored_reuse_is_a_different_person(tmp_path, shared_videos):
    out = tmp_path / "m.mp4"
    truth = compose_gallery(out, rows=2, cols=7, duration=0.4, fps=5, width=640, height=360,
                            camera_off=[(12, 0.0, 0.2)])
    people = truth["people"]
    assert len({p["person_id"] for p in people}) == len({p["name"] for p in people}) == 14
    twins = [p for p in people if p["mirrored"]]
    assert [p["source"] for p in twins] == [v.name for v in shared_videos[:2]]
    assert [p["person_id"] for p in twins] == [v.stem + "-mirror" for v in shared_videos[:2]]
    seg = truth["segments"][0]
    assert next(t for t in seg["tiles"] if t["person"] == twins[0]["person_id"])["camera"] == "off"


def _cli():
    path = Path(__file__).resolve().parents[1] / "sample_videos" / "compose_gallery.py"
    spec = importlib.util.spec_from_file_location("compose_gallery_cli", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_cli_hard_case_options(tmp_path, capsys):
    cli = _cli()
    out = tmp_path / "c.mp4"
    assert cli.main(["-o", str(out), "--rows", "2", "--cols", "2", "--duration", "2",
                     "--fps", "5", "--width", "320", "--height", "180", "--data", str(NO_DATA),
                     "--camera-off", "0:0-0.5", "--camera-off", "1:1-1.5", "--absent",
                     "2:0.5-1.2", "--screen-share", "1.4-1.8", "--strip-tiles", "2",
                     "-q"]) == 0
    truth = load_truth(out)
    assert [e["type"] for e in truth["events"]] == [
        "camera_off", "absent", "camera_off", "screen_share"]
    share = next(s for s in truth["segments"] if s["layout"] == "screen_share")
    assert len(share["tiles"]) == 2
    for bad in (["--camera-off", "0:1"], ["--absent", "x:0-1"], ["--screen-share", "2-1"],
                ["--camera-off", "9:0-1"]):
        with pytest.raises(SystemExit):
            cli.main(["-o", str(tmp_path / "bad.mp4"), "--rows", "2", "--cols", "2", *bad])
    assert "P:START-END" in capsys.readouterr().err


@pytest.mark.parametrize("content", ['{"video": "x.mp4"}', "[]", '{"people": [], "segments": 3}'])
def test_load_truth_rejects_json_that_is_not_a_truth(tmp_path, content):
    p = tmp_path / "x.truth.json"
    p.write_text(content)
    with pytest.raises(ValueError, match="expected the <video>.truth.json"):
        load_truth(p)
    p.write_text("not json")
    with pytest.raises(ValueError):
        load_truth(p)


# --- app skins (zoom, teams, meet): look, labels, chrome, names -------------------------------

from lecturelens.dev import skins as sk  # noqa: E402
from lecturelens.dev.compose import resolve_skin  # noqa: E402

_ID = re.compile(r"\d{8}")


def _skin_seed(name: str, want, width=640, height=360) -> int:
    """The first seed whose randomised ``name`` skin satisfies ``want(skin)``."""
    return next(s for s in range(200) if want(sk.make_skin(name, s, width, height)))


def test_random_names_are_combinatorial_and_follow_the_scripts():
    names = sk.random_names(150, 1)
    assert len({n.name for n in names}) == 150
    assert len({sk.close_key(n.name) for n in names}) == 150  # not even loosely equal
    assert {n.script for n in names} == set(sk.available_scripts())
    assert len({n.culture for n in names if n.script == "latin"}) >= 8
    assert any(not n.name.isascii() for n in names if n.script == "latin")
    latin = sk.random_names(40, 2, scripts=("latin",))
    assert {n.script for n in latin} == {"latin"}
    assert sk.random_names(10, 5) == sk.random_names(10, 5)
    assert sk.random_names(10, 5) != sk.random_names(10, 6)
    with pytest.raises(ValueError, match="unknown script"):
        sk.random_names(3, 0, scripts=("klingon",))


def test_script_without_an_installed_font_is_skipped(monkeypatch):
    monkeypatch.setitem(sk._SCRIPT_FONTS, "korean", [("NoSuchFont.ttf", None)])
    sk.script_fonts.cache_clear()
    try:
        names = sk.random_names(30, 0, scripts=("latin", "korean"),
                                weights={"latin": 0.5, "korean": 0.5})
        assert {n.script for n in names} == {"latin"}
        with pytest.raises(ValueError, match="no installed font"):
            sk.random_names(3, 0, scripts=("korean",))
    finally:
        sk.script_fonts.cache_clear()


def test_decorated_labels_carry_what_people_type():
    rng = __import__("random").Random(0)
    labels = [sk.decorate_label("Lee Min", rng) for _ in range(400)]
    assert 0.35 < labels.count("Lee Min") / len(labels) < 0.65
    assert all("Lee Min" in lab for lab in labels)
    assert any(_ID.fullmatch(lab.split()[0]) for lab in labels)  # "20200759 Lee Min"
    assert any(re.fullmatch(r"Lee Min\(\d{8}\)", lab) for lab in labels)  # "Lee Min(2020...)"
    for part in ("(Beginner) ", "(Host)", "(she/her)", "_"):
        assert any(part in lab for lab in labels), part
    assert not any("(Host)" in sk.decorate_label("A B", rng, allow_host=False)
                   for _ in range(200))


def test_lookalike_distractors_are_close_but_never_a_real_name():
    real = sk.random_names(12, 3)
    names = [n.name for n in real]
    fakes = sk.lookalike_names(names, 8, seed=1, infos=real)
    assert len(fakes) == 8 and len(set(fakes)) == 8
    keys = {sk.close_key(n) for n in names}
    assert not any(sk.close_key(f) in keys for f in fakes)

    def one_edit(a, b):
        return len(a) == len(b) and sum(x != y for x, y in zip(a, b)) == 1

    lat = sk.random_names(12, 4, scripts=("latin",))
    lat_names = [n.name for n in lat]
    many = sk.lookalike_names(lat_names, 20, seed=2, infos=lat)
    assert any(one_edit(f, n) for f in many for n in lat_names)
    assert any(f.split()[-1] == n.split()[-1] and f != n for f in many for n in lat_names
               if " " in f)
    assert sk.lookalike_names(["Ana García"], 3, seed=0) == \
        sk.lookalike_names(["Ana García"], 3, seed=0)


def test_skins_are_randomised_around_the_real_values():
    zooms = [sk.make_skin("zoom", s, 1280, 720) for s in range(40)]
    assert all(40 <= z.box_color[0] <= 55 and 220 <= z.text_color[0] <= 250
               and 2 <= z.gap <= 6 and 2 <= z.border_px <= 3 and 28 <= z.crf <= 35
               and 8 <= z.label_px <= 20 for z in zooms)
    assert len({z.label_px for z in zooms}) >= 4 and len({z.gap for z in zooms}) >= 3
    assert {z.chrome for z in zooms} == {True, False}
    small = [sk.make_skin("zoom", s, 640, 360).label_px for s in range(30)]
    assert max(small) <= 11 and min(small) >= 8
    assert {resolve_skin("random", s) for s in range(20)} == set(sk.SKINS)
    with pytest.raises(ValueError, match="unknown skin"):
        resolve_skin("webex", 0)


def test_truth_labels_show_mic_id_and_truncation_variety(tmp_path):
    labels, mics, cut = set(), set(), 0
    for seed in range(3):
        truth = compose_gallery(tmp_path / f"v{seed}.mp4", duration=0.4, fps=5, width=640,
                                height=360, tiles=25, skin="zoom", seed=seed,
                                data_root=NO_DATA)
        people = {p["person_id"]: p for p in truth["people"]}
        for tile in truth["segments"][0]["tiles"]:
            typed = people[tile["person"]]["label"]
            assert tile["name"] == people[tile["person"]]["name"]
            if tile["label"].endswith("..."):
                cut += 1
                assert typed.startswith(tile["label"][:-3].rstrip())
            else:
                assert tile["label"] == typed
            labels.add(typed)
            mics.add(tile["mic"])
    assert cut >= 3  # long labels are cut to 25 small tiles
    assert mics == {"muted", "on"}
    assert any(_ID.search(lab) for lab in labels)
    assert any(lab == people[p]["name"] for lab in labels for p in people)
    assert any(not lab.isascii() for lab in labels)


def test_zoom_label_box_lies_where_the_truth_says(tmp_path):
    seed = _skin_seed("zoom", lambda z: z.label_px >= 10 and not z.chrome)
    out = tmp_path / "z.mp4"
    truth = compose_gallery(out, duration=0.4, fps=5, width=640, height=360, tiles=4,
                            skin="zoom", seed=seed, data_root=NO_DATA,
                            scripts=("latin",), camera_off=[(3, 0.0, 0.4)])
    frame = _frames(out)[0].astype(int)
    assert truth["skin"]["name"] == "zoom" and truth["segments"][0]["chrome"] == []
    px = truth["skin"]["label_px"]
    for tile in truth["segments"][0]["tiles"]:
        x, y, w, h = tile["rect"]
        lx, ly, lw, lh = tile["label_rect"]
        if tile["camera"] == "off":
            assert tile["label_pos"] == "centre" and tile["label_px"] == 2 * px
            assert abs((lx + lw / 2) - (x + w / 2)) < 3 and abs((ly + lh / 2) - (y + h / 2)) < 6
            assert (np.abs(_crop(frame, tile["rect"], 0.05)[: h // 4] - 32).max(axis=2)
                    < 15).mean() > 0.9  # dark (30-35) video-off tile
            continue
        assert tile["label_pos"] == "bottom-left" and tile["label_px"] == px
        assert (lx, ly + lh) == (x, y + h)  # flush with the tile's bottom-left corner
        assert lh < 2 * px and lw < w
        box = frame[ly:ly + lh, lx:lx + lw]
        text = box.min(axis=2) > 170
        assert text.sum() > 10  # white letters
        assert np.median(box.max(axis=2)[~text]) < 110  # on a dark grey box
        # the box's left padding (inside a speaker border): dark grey, no text
        assert np.median(box[:-3, 3:5]) < 110


def test_label_size_does_not_scale_with_the_tile(tmp_path):
    kw = dict(duration=0.4, fps=5, width=960, height=540, skin="zoom", seed=4,
              data_root=NO_DATA)
    few = compose_gallery(tmp_path / "a.mp4", tiles=4, **kw)
    many = compose_gallery(tmp_path / "b.mp4", tiles=20, **kw)
    sizes = {t["label_px"] for t in few["segments"][0]["tiles"] + many["segments"][0]["tiles"]
             if t["camera"] == "on"}
    assert len(sizes) == 1
    big, small = few["segments"][0]["tiles"][0], many["segments"][0]["tiles"][0]
    assert big["rect"][2] > 2 * small["rect"][2]


def test_zoom_chrome_text_is_recorded_as_non_names(tmp_path):
    seed = _skin_seed("zoom", lambda z: z.chrome)
    out = tmp_path / "c.mp4"
    truth = compose_gallery(out, duration=0.4, fps=5, width=640, height=360, tiles=6,
                            skin="zoom", seed=seed, data_root=NO_DATA)
    seg = truth["segments"][0]
    texts = {c["text"] for c in seg["chrome"]}
    assert {"Leave", "Participants", "Chat", "Security", "Reactions"} <= texts
    assert texts & {"Zoom Meeting", "Zoom Workplace"} and texts & {"Speaker View"}
    assert texts <= set(truth["non_names"])
    names = {p["name"] for p in truth["people"]} | {p["label"] for p in truth["people"]}
    assert not names & set(truth["non_names"])
    frame = _frames(out)[0]
    for item in seg["chrome"]:
        x, y, w, h = item["rect"]
        assert _no_overlap([item["rect"]] + [t["rect"] for t in seg["tiles"]])
        if item["text"] in ("Leave", "Participants"):
            assert (frame[y:y + h, x:x + w].min(axis=2) > 150).sum() > 3  # drawn there


def test_teams_and_meet_camera_off_tiles(tmp_path):
    for skin, pos in (("teams", "centre"), ("meet", "bottom-left")):
        out = tmp_path / f"{skin}.mp4"
        truth = compose_gallery(out, duration=0.4, fps=5, width=640, height=360, tiles=4,
                                skin=skin, seed=2, data_root=NO_DATA, scripts=("latin",),
                                camera_off=[(0, 0.0, 0.4)])
        off = next(t for t in truth["segments"][0]["tiles"] if t["camera"] == "off")
        person = next(p for p in truth["people"] if p["person_id"] == off["person"])
        assert off["label_pos"] == pos
        assert off["label"] == person["label"] or (
            off["label"].endswith("...")
            and person["label"].startswith(off["label"][:-3].rstrip()))
        assert off["avatar"][0] == person["name"][0].upper()
        assert len(off["avatar"]) == (2 if skin == "teams" else 1)
        x, y, w, h = off["rect"]
        centre = _frames(out)[0][y + h // 2 - 5 - (h // 15 if skin == "teams" else 0):
                                 y + h // 2 + 5, x + w // 2 - 25:x + w // 2 - 15]
        assert (centre.astype(int).max(axis=2) - centre.astype(int).min(axis=2)).mean() > 40
        # a coloured avatar circle, not the grey tile


def test_speaker_view_puts_the_active_speaker_large(tmp_path):
    truth = compose_gallery(tmp_path / "s.mp4", duration=12.0, fps=2, width=640,
                            height=360, tiles=8, skin="zoom", seed=1, layout="speaker",
                            strip_tiles=4, data_root=NO_DATA)
    assert truth["layout"] == "speaker"
    speakers = [e["person"] for e in truth["events"] if e["type"] == "speaker"]
    assert len(speakers) >= 2 and len(set(speakers)) >= 2  # moves now and then
    for seg in truth["segments"]:
        assert seg["layout"] == "speaker"
        big, *strip = seg["tiles"]
        assert big["person"] == seg["speaker"] and big["speaking"]
        assert len(strip) == 4 and all(big["rect"][2] > 3 * t["rect"][2] for t in strip)
        assert {t["label_px"] for t in seg["tiles"]} == {truth["skin"]["label_px"]}


def test_gallery_speaker_border_and_screen_share_layout(tmp_path):
    out = tmp_path / "b.mp4"
    truth = compose_gallery(out, duration=0.4, fps=5, width=640, height=360, tiles=4,
                            skin="zoom", seed=3, data_root=NO_DATA)
    seg = truth["segments"][0]
    tile = next(t for t in seg["tiles"] if t["speaking"])
    assert tile["person"] == seg["speaker"]
    x, y, w, h = tile["rect"]
    edge = _frames(out)[0][y + h // 3:y + 2 * h // 3, x].astype(int)
    assert (edge[:, 1] > edge[:, 2] + 60).mean() > 0.8  # yellow-green, not blue
    share = compose_gallery(tmp_path / "sh.mp4", duration=0.4, fps=5, width=640,
                            height=360, tiles=6, skin="teams", seed=3, data_root=NO_DATA,
                            layout="screen_share", strip_tiles=3)
    assert [s["layout"] for s in share["segments"]] == ["screen_share"]
    assert len(share["segments"][0]["tiles"]) == 3
    assert set(share["segments"][0]["screen_text"]) <= set(share["non_names"])


def test_app_skin_validation(tmp_path):
    kw = dict(duration=0.4, fps=5, width=320, height=180, data_root=NO_DATA)
    with pytest.raises(ValueError, match="unknown skin"):
        compose_gallery(tmp_path / "a.mp4", skin="webex", **kw)
    with pytest.raises(ValueError, match="unknown layout"):
        compose_gallery(tmp_path / "a.mp4", skin="zoom", layout="grid", **kw)
    with pytest.raises(ValueError, match="unknown script"):
        compose_gallery(tmp_path / "a.mp4", skin="zoom", scripts=("elvish",), **kw)
    with pytest.raises(ValueError, match="even sizes"):
        compose_gallery(tmp_path / "a.mp4", skin="meet", **{**kw, "width": 321})
    assert not list(tmp_path.iterdir())


def test_app_skins_with_real_faces(tmp_path, shared_videos):
    truth = compose_gallery(tmp_path / "r.mp4", duration=0.4, fps=5, width=960, height=540,
                            tiles=14, skin="meet", seed=0)
    assert truth["source"] == "videos" and len(truth["people"]) == 14
    assert sum(p["mirrored"] for p in truth["people"]) == 2
    assert 28 <= truth["crf"] <= 35
    for tile in truth["segments"][0]["tiles"]:
        if truth["skin"]["fit"] == "cover":
            assert tile["video_rect"] == tile["rect"]
        x, y, w, h = tile["label_rect"]
        assert tile["rect"][0] <= x and y + h <= tile["rect"][1] + tile["rect"][3]


def test_cli_skin_options(tmp_path):
    cli = _cli()
    out = tmp_path / "k.mp4"
    assert cli.main(["-o", str(out), "--skin", "teams", "--size", "320x180", "--tiles", "5",
                     "--scripts", "latin,cyrillic", "--layout", "speaker", "--seed", "7",
                     "--duration", "0.4", "--fps", "5", "--data", str(NO_DATA), "-q"]) == 0
    truth = load_truth(out)
    assert truth["skin"]["name"] == "teams" and truth["layout"] == "speaker"
    assert (truth["width"], truth["height"], truth["seed"]) == (320, 180, 7)
    assert len(truth["people"]) == 5
    assert {p["script"] for p in truth["people"]} <= {"latin", "cyrillic"}
    assert probe(out).width == 320
    for bad in (["--size", "320"], ["--scripts", "latin,elvish"], ["--skin", "webex"]):
        with pytest.raises(SystemExit):
            cli.main(["-o", str(tmp_path / "bad.mp4"), *bad])
