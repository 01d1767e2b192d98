"""GIF moments, tile crops and captions."""

from __future__ import annotations

import numpy as np

from lecturelens.gifs import GifSettings, caption_band, select_moments, tile_crop


def _gallery(rng, t=0):
    """Two 200x150 tiles of moving noise side by side on a flat gap, like a meeting app."""
    frame = np.full((170, 430, 3), 18, np.uint8)
    for x0 in (10, 220):
        frame[10:160, x0:x0 + 200] = rng.integers(40, 220, (150, 200, 3), dtype=np.uint8)
    return frame


def test_tile_crop_stops_at_the_gap_between_tiles():
    rng = np.random.default_rng(0)
    frames = [_gallery(rng) for _ in range(3)]
    # A face near the right edge of the left tile; the other face in the right tile.
    crop = tile_crop(frames, (150, 50, 200, 110), others=[(250, 50, 300, 110)], margin=1.0)
    x1, y1, x2, y2 = crop
    assert x2 <= 210 and y1 >= 10 and y2 <= 160  # the left tile is x 10-210, y 10-160
    assert x1 < 150 and x2 > 200  # it did grow around the face


def test_tile_crop_keeps_half_way_from_other_faces_without_a_gap():
    rng = np.random.default_rng(1)
    frames = [rng.integers(40, 220, (200, 400, 3), dtype=np.uint8) for _ in range(3)]
    x1, _, x2, _ = tile_crop(frames, (100, 50, 150, 110), others=[(200, 50, 250, 110)],
                             margin=2.0)
    assert x2 <= 175 and x1 == 0


def _row(sid, emo, strength, start):
    return {"student_id": sid, "name": f"name {sid}", "state": "ok", "emotion": emo,
            "strength": strength, "peak_t": start + 3, "start": start, "end": start + 8}


def test_select_moments_modes():
    rows = [_row("S01", "happy", 0.5, 0), _row("S01", "happy", 0.3, 8),
            _row("S01", "sad", 0.05, 16), _row("S01", "neutral", 0.0, 24),
            _row("S02", "surprise", 0.2, 0), _row("S02", "angry", 0.4, 8),
            {"student_id": "S03", "state": "camera_off"}]
    strong = select_moments(rows, GifSettings(mode="strong", min_strength=0.15))
    assert [(m.student_id, m.emotion, m.window_start) for m in strong] == [
        ("S01", "happy", 0), ("S02", "angry", 8), ("S02", "surprise", 0)]
    every = select_moments(rows, GifSettings(mode="all"))
    assert ("S01", "sad") in {(m.student_id, m.emotion) for m in every}
    assert select_moments(rows, GifSettings(mode="none")) == []
    capped = select_moments(rows, GifSettings(mode="all", max_per_student=1))
    assert [m.emotion for m in capped] == ["happy", "angry"]


def test_caption_band_fits_long_names():
    band = caption_band(120, ["Maximiliane Anastasia Wolkenstein-Trostburg", "happy · 1:02"])
    assert band.shape[1] == 120 and band.shape[2] == 3 and band.shape[0] > 20
    assert band.max() > 200  # the text is drawn


def test_read_clip_decodes_only_the_span_at_the_gif_rate(testsrc_video):
    from lecturelens.gifs import read_clip

    frames = read_clip(testsrc_video, 1.0, 3.0, fps=5)
    assert 9 <= len(frames) <= 11  # 2 s at 5 fps
    assert frames[0].shape == (240, 320, 3) and frames[0].dtype == np.uint8
    assert not np.array_equal(frames[0], frames[-1])  # the test pattern moves
    assert read_clip(testsrc_video, 10.0, 12.0, fps=5) == []  # past the end


def test_read_clip_region_is_the_same_pixels_as_the_full_frame(testsrc_video):
    from lecturelens.gifs import read_clip

    full = read_clip(testsrc_video, 1.0, 2.0, fps=5)
    part = read_clip(testsrc_video, 1.0, 2.0, fps=5, region=(40, 30, 200, 150))
    assert len(part) == len(full) > 0
    assert part[0].shape == (120, 160, 3)
    for a, b in zip(full, part):
        assert np.array_equal(a[30:150, 40:200], b)
    # A region past the frame edge is clipped to the frame.
    edge = read_clip(testsrc_video, 1.0, 2.0, fps=5, region=(300, 200, 400, 300))
    assert edge[0].shape == (40, 20, 3)
    assert np.array_equal(edge[0], full[0][200:240, 300:320])


def test_clip_feed_yields_every_plan_in_order(testsrc_video):
    from lecturelens.gifs import ClipFeed, ClipPlan, Moment

    plans = [ClipPlan(Moment(f"s{i}", f"S{i}", "happy", 0.5, float(i), 0.0, 1.0), i * 0.5,
                      i * 0.5 + 0.6, (0, 0, 10, 10), [], (0, 0, 64 + 16 * i, 48))
             for i in range(5)]
    feed = ClipFeed(testsrc_video, plans, fps=5, ahead=2)
    assert len(feed) == 5
    got = [(plan.moment.student_id, frames[0].shape[1]) for plan, frames in feed]
    assert got == [(f"s{i}", 64 + 16 * i) for i in range(5)]
    # Closing a feed that was never read drops its pending reads without error.
    ClipFeed(testsrc_video, plans, fps=5).close()
