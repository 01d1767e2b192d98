import numpy as np
import pytest

from lecturelens.detect import FaceDetector


@pytest.fixture(scope="module")
def detector():
    return FaceDetector(min_face=40, detect_min_size=20, threshold=0.9)


def test_finds_real_face_with_landmarks(detector, astronaut):
    (faces,) = detector.detect([astronaut])
    assert len(faces) == 1
    f = faces[0]
    x1, y1, x2, y2 = f.box
    assert 150 < x1 < x2 < 300 and 40 < y1 < y2 < 200
    assert f.prob > 0.99 and not f.small
    # Landmarks inside the box, eyes above nose above mouth, left eye left of right eye.
    lm = f.landmarks
    assert np.all((lm[:, 0] > x1) & (lm[:, 0] < x2) & (lm[:, 1] > y1) & (lm[:, 1] < y2))
    assert lm[0, 0] < lm[1, 0] and lm[0, 1] < lm[2, 1] < lm[3, 1]


def test_frame_without_faces_gives_empty_list(detector, astronaut):
    # facenet-pytorch returns None / object arrays for these; the wrapper must not crash.
    blank = np.zeros_like(astronaut)
    res = detector.detect([blank, astronaut, blank])
    assert [len(r) for r in res] == [0, 1, 0]
    assert detector.detect([]) == []


def test_mixed_frame_sizes_are_batched_by_shape(detector, astronaut):
    small = astronaut[::2, ::2].copy()
    res = detector.detect([astronaut, small, astronaut])
    assert [len(r) for r in res] == [1, 1, 1]
    assert res[1][0].box[2] < 200  # coordinates of the half-size frame


def test_small_faces_are_kept_but_flagged(astronaut):
    import cv2

    tiny = cv2.resize(astronaut, (160, 160), interpolation=cv2.INTER_AREA)
    det = FaceDetector(min_face=40, detect_min_size=12)
    (faces,) = det.detect([tiny])
    assert len(faces) == 1
    assert faces[0].small and faces[0].quality == "small"


def test_several_faces_sorted_in_reading_order(detector, astronaut):
    face = astronaut[40:220, 140:320]
    canvas = np.full((400, 400, 3), 30, np.uint8)
    for (y, x) in [(210, 210), (10, 210), (10, 10)]:
        canvas[y:y + 180, x:x + 180] = face
    (faces,) = detector.detect([canvas])
    assert len(faces) == 3
    centres = [((f.box[0] + f.box[2]) / 2, (f.box[1] + f.box[3]) / 2) for f in faces]
    assert centres[0][0] < centres[1][0]  # top row left to right
    assert centres[2][1] > centres[0][1] + 100  # then the bottom row


def _canvas(astronaut, offsets, size=(360, 640)):
    """A frame holding the astronaut's head (rows 0-240, cols 120-360) at each offset."""
    head = astronaut[0:240, 120:360]
    out = np.full((*size, 3), 40, np.uint8)
    for x, y in offsets:
        out[y:y + 240, x:x + 240] = head
    return out


def test_refine_follows_a_face_that_moved(detector, astronaut):
    (faces,) = detector.detect([_canvas(astronaut, [(40, 60)])])
    assert len(faces) == 1
    w = float(faces[0].box[2] - faces[0].box[0])
    for shift in (8, int(0.6 * w)):  # a small move, and one of more than half the face
        moved = _canvas(astronaut, [(40 + shift, 60)])
        (f,) = detector.refine(moved, faces)
        ((truth,),) = detector.detect([moved])
        assert f is not None and f.prob > 0.9
        assert np.abs(f.box - truth.box).max() < 0.12 * w
        assert np.abs(f.landmarks - truth.landmarks).max() < 0.1 * w
    blank = np.full_like(moved, 40)
    assert detector.refine(blank, faces) == [None]  # gone
    assert detector.refine(blank, []) == []


def test_follower_full_passes_only_when_needed(detector, astronaut):
    from lecturelens.detect import FaceFollower
    from lecturelens.ingest import Frame

    one = _canvas(astronaut, [(40, 60)])
    two = _canvas(astronaut, [(40, 60), (360, 60)])  # a camera turned on in another tile
    follow = FaceFollower(detector, interval=30.0)
    seq = [(0, one), (1, one), (2, one), (3, two), (4, two), (40, two), (41, np.full_like(one, 40))]
    counts = []
    for t, img in seq:
        counts.append(len(follow.faces(Frame(t=float(t), index=t, rgb=img))))
    assert counts == [1, 1, 1, 2, 2, 2, 0]
    st = follow.stats()
    assert st["full_pass_reasons"] == {"first frame": 1, "scene change": 2, "interval": 1}
    assert st["refined_frames"] == 3
    every = FaceFollower(detector, interval=0)
    for t, img in seq[:3]:
        every.faces(Frame(t=float(t), index=t, rgb=img))
    assert every.stats()["full_passes"] == 3


def test_scene_change_ignores_motion_around_known_faces(detector, astronaut):
    from lecturelens.detect import SceneChange

    a = _canvas(astronaut, [(40, 60)])
    (faces,) = detector.detect([a])
    sc = SceneChange()
    assert sc.update(a, faces)  # nothing to compare with yet
    b = a.copy()
    x1, y1, x2, y2 = faces[0].box.astype(int)
    b[y1:y2, x1:x2] = 255 - b[y1:y2, x1:x2]  # the face itself changes (expression, light)
    assert not sc.update(b, faces)
    c = b.copy()
    c[20:120, 450:600] = 220  # something new far from every face
    assert sc.update(c, faces)
