import numpy as np

from lecturelens.detect import Face
from lecturelens.track import Tracker, iou


def face(x, y, w=60, prob=0.99):
    return Face(box=np.array([x, y, x + w, y + w], np.float32),
                landmarks=np.zeros((5, 2), np.float32), prob=prob, small=w < 40)


def test_iou():
    a = np.array([0, 0, 10, 10])
    assert iou(a, a) == 1.0
    assert iou(a, np.array([20, 20, 30, 30])) == 0.0
    assert iou(a, np.array([5, 0, 15, 10])) == 50 / 150


def test_static_gallery_gives_one_track_per_tile():
    tr = Tracker()
    spots = [(50, 50), (400, 50), (50, 300), (400, 300)]
    for t in range(10):
        jitter = (t % 3) * 4
        ids = tr.update(float(t), [face(x + jitter, y - jitter) for x, y in spots])
        assert ids == [1, 2, 3, 4]
    tracks = tr.tracks()
    assert [t.n_frames for t in tracks] == [10] * 4
    assert tracks[0].first_seen == 0 and tracks[0].last_seen == 9


def test_person_shifting_within_tile_keeps_track():
    tr = Tracker()
    tr.update(0.0, [face(100, 100)])
    # moved by ~0.8 face widths: no overlap left, but the same tile
    assert tr.update(1.0, [face(150, 100)]) == [1]


def test_gap_within_max_gap_keeps_track_longer_gap_starts_new():
    tr = Tracker(max_gap=3.0)
    tr.update(0.0, [face(100, 100)])
    tr.update(1.0, [])
    assert tr.update(3.0, [face(102, 100)]) == [1]
    assert tr.update(10.0, [face(102, 100)]) == [2]
    assert [t.n_frames for t in tr.tracks()] == [2, 1]


def test_one_detection_continues_one_track():
    tr = Tracker()
    tr.update(0.0, [face(100, 100), face(170, 100)])
    ids = tr.update(1.0, [face(135, 100)])
    assert len(ids) == 1 and ids[0] in (1, 2)
    ids = tr.update(2.0, [face(100, 100), face(170, 100)])
    assert sorted(ids) == [1, 2]


def test_reshuffle_moves_faces_to_new_tracks():
    tr = Tracker(max_gap=0.5)
    tr.update(0.0, [face(50, 50), face(600, 50)])
    ids = tr.update(1.0, [face(50, 400), face(600, 400)])
    assert ids == [3, 4]
    assert len(tr.tracks()) == 4


def test_split_takes_the_frame_back_and_starts_a_new_track():
    tr = Tracker()
    tr.update(0.0, [face(100, 100)])
    tr.update(1.0, [face(102, 100)])
    (tid,) = tr.update(2.0, [face(104, 100)])
    new = tr.split(tid, 2.0, face(104, 100))
    old, cur = tr.tracks()
    assert new != tid and old.track_id == tid and cur.track_id == new
    assert old.n_frames == 2 and old.last_seen == 1.0 and float(old.last_box[0]) == 102
    assert cur.n_frames == 1 and cur.first_seen == 2.0
    # the new track continues; the old one is closed
    assert tr.update(3.0, [face(104, 100)]) == [new]
