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
