"""Face identity: the dlib descriptor on real faces, TrackEmbedder's schedule, model loading."""

import numpy as np
import pytest

from lecturelens.detect import Face
from lecturelens.errors import ModelError
from lecturelens.identity import (EMBED_AT, IdentityModel, TrackEmbedder,
                                  create_identity_model)
from lecturelens.models import get_model_entry


def _face(box, small=False) -> Face:
    return Face(box=np.asarray(box, np.float32), landmarks=np.zeros((5, 2), np.float32),
                prob=0.99, small=small)


@pytest.fixture(scope="module")
def dlib_model():
    pytest.importorskip("dlib", reason="dlib-bin is not installed")
    return create_identity_model("dlib-resnet")


@pytest.fixture(scope="module")
def detector():
    from lecturelens.detect import FaceDetector

    return FaceDetector(threads=1)


def _video_frame(path, index: int) -> np.ndarray:
    import cv2

    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, bgr = cap.read()
    cap.release()
    assert ok, f"{path}: frame {index} not decoded"
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _one_face(detector, rgb) -> Face:
    faces = detector.detect([rgb])[0]
    assert len(faces) == 1
    return faces[0]


def test_dlib_model_metadata(dlib_model):
    assert dlib_model.name == "dlib-resnet" and dlib_model.dim == 128
    assert dlib_model.same_person_distance == 0.6
    assert all(w["verified"] and len(w["sha256"]) == 64 for w in dlib_model.weights)


def test_dlib_embeds_the_astronaut_as_one_person(dlib_model, detector, astronaut):
    mirrored = np.ascontiguousarray(astronaut[:, ::-1])
    a = dlib_model.embed(astronaut, [_one_face(detector, astronaut)])
    b = dlib_model.embed(mirrored, [_one_face(detector, mirrored)])
    assert a.shape == b.shape == (1, 128) and a.dtype == np.float32
    assert np.isfinite(a).all()
    assert np.linalg.norm(a - b) < dlib_model.same_person_distance


def test_dlib_same_person_closer_than_different_people(dlib_model, detector, shared_videos):
    # d0 and d10 are two different people; frames 0 and 60 are 2-3 s apart.
    p, q = shared_videos[0].stem, shared_videos[1].stem
    emb = {}
    for video in (shared_videos[0], shared_videos[1]):
        for index in (0, 60):
            rgb = _video_frame(video, index)
            emb[video.stem, index] = dlib_model.embed(rgb, [_one_face(detector, rgb)])[0]
    same = [np.linalg.norm(emb[v, 0] - emb[v, 60]) for v in (p, q)]
    different = [np.linalg.norm(emb[p, i] - emb[q, j]) for i in (0, 60) for j in (0, 60)]
    assert max(same) < dlib_model.same_person_distance
    assert min(different) > max(same)
    assert min(different) > dlib_model.same_person_distance


def test_dlib_embeds_several_faces_in_one_call(dlib_model, detector, shared_videos):
    rgb = np.concatenate([_video_frame(shared_videos[0], 0),
                          _video_frame(shared_videos[1], 0)], axis=1)  # two people side by side
    faces = detector.detect([rgb])[0]
    assert len(faces) == 2
    emb = dlib_model.embed(rgb, faces)
    assert emb.shape == (2, 128)
    alone = dlib_model.embed(rgb, faces[:1])
    assert np.allclose(alone[0], emb[0], atol=1e-4)  # each face embedded on its own


def test_embed_no_faces(dlib_model, astronaut):
    out = dlib_model.embed(astronaut, [])
    assert out.shape == (0, 128) and out.dtype == np.float32


class _CountingModel(IdentityModel):
    """Embeds a face as ``[k, k, ...]`` for its ``k``-th embedding call; records calls."""

    def __init__(self):
        super().__init__(get_model_entry("dlib-resnet"), [], dim=4, same_person_distance=0.6)
        self.calls: list[int] = []

    def embed(self, rgb, faces):
        self.calls.append(len(faces))
        k = len(self.calls)
        return np.full((len(faces), self.dim), float(k), np.float32)


def test_track_embedder_embeds_at_counts_1_4_16_64_only():
    assert tuple(EMBED_AT) == (1, 4, 16, 64)
    model = _CountingModel()
    emb = TrackEmbedder(model)
    rgb = np.zeros((10, 10, 3), np.uint8)
    embedded_at = []
    for n in range(1, 101):
        before = len(model.calls)
        emb.update(rgb, [_face([0, 0, 25, 25])], [7])
        if len(model.calls) > before:
            embedded_at.append(n)
    assert embedded_at == [1, 4, 16, 64]
    assert emb.embedded == 4
    out = emb.embeddings()
    assert list(out) == [7]
    assert np.allclose(out[7], np.mean([1, 2, 3, 4]))  # mean of the four embeddings
    assert out[7].dtype == np.float32


def test_track_embedder_gives_a_named_track_two_embeddings():
    model = _CountingModel()
    emb = TrackEmbedder(model)
    rgb = np.zeros((10, 10, 3), np.uint8)
    for _ in range(100):  # track 7's label was read, track 8's was not
        emb.update(rgb, [_face([0, 0, 25, 25]), _face([40, 0, 65, 25])], [7, 8],
                   named=lambda tid: tid == 7)
    assert emb._counts == {7: 2, 8: 4}
    assert emb.embedded == 6


def test_track_embedder_skips_tiny_faces_and_batches_tracks():
    model = _CountingModel()
    emb = TrackEmbedder(model)
    rgb = np.zeros((10, 10, 3), np.uint8)
    # track 1 usable on every frame (flagged small, but 30 px wide: used), track 2 always
    # under 20 px, track 3 under 20 px on odd frames
    for n in range(8):
        faces = [_face([0, 0, 30, 30], small=True), _face([60, 0, 70, 10], small=True),
                 _face([80, 0, 130 if n % 2 == 0 else 95, 50])]
        emb.update(rgb, faces, [1, 2, 3])
    # frame 0: tracks 1 and 3 together in one call; frame 3: track 1 (4th); frame 6: track 3
    # (its 4th usable observation)
    assert model.calls == [2, 1, 1]
    assert emb.embedded == 4
    out = emb.embeddings()
    assert sorted(out) == [1, 3]  # the tiny-only track never gets an identity
    assert np.allclose(out[1], 1.5) and np.allclose(out[3], 2.0)


def test_track_embedder_no_faces_no_calls():
    model = _CountingModel()
    emb = TrackEmbedder(model)
    emb.update(np.zeros((4, 4, 3), np.uint8), [], [])
    assert model.calls == [] and emb.embeddings() == {}


def test_unknown_identity_model_lists_choices():
    with pytest.raises(ModelError, match=r"unknown model 'nope'; choose from: .*dlib-resnet"):
        create_identity_model("nope")


def test_detector_is_not_an_identity_model():
    with pytest.raises(ModelError, match="mtcnn is a face-detection model, not a "
                                         "face-identity model; choose from: .*dlib-resnet"):
        create_identity_model("mtcnn")


@pytest.fixture(scope="module")
def vggface2_checkpoint(tmp_path_factory):
    """A file with the published vggface2 checkpoint's layout (random weights)."""
    torch = pytest.importorskip("torch")
    from facenet_pytorch import InceptionResnetV1

    state = InceptionResnetV1(pretrained=None).state_dict()
    assert not any(k.startswith("logits.") for k in state)
    state["logits.weight"] = torch.zeros(8631, 512)
    state["logits.bias"] = torch.zeros(8631)
    path = tmp_path_factory.mktemp("vgg") / "20180402-114759-vggface2.pt"
    torch.save(state, path)
    return path


def test_vggface2_loads_a_given_checkpoint(vggface2_checkpoint, astronaut):
    model = create_identity_model("vggface2", weights=vggface2_checkpoint)
    assert model.name == "vggface2" and model.dim == 512
    assert model.same_person_distance == 1.0
    assert model.weights[0]["path"] == str(vggface2_checkpoint)
    assert len(model.weights[0]["sha256"]) == 64
    faces = [_face([180, 40, 300, 190]), _face([0, 0, 40, 40])]  # the astronaut's head, a corner
    emb = model.embed(astronaut, faces)
    assert emb.shape == (2, 512) and emb.dtype == np.float32
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-4)
    assert model.embed(astronaut, []).shape == (0, 512)


def test_vggface2_wrong_architecture(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "other.pt"
    torch.save({"conv1.weight": torch.zeros(8, 3, 3, 3)}, path)
    with pytest.raises(ModelError, match=r"other\.pt: weights do not fit vggface2's "
                                         r"architecture \(.+\)"):
        create_identity_model("vggface2", weights=path)


def test_vggface2_not_a_state_dict(tmp_path):
    path = tmp_path / "junk.pt"
    path.write_bytes(b"this is not a torch file")
    with pytest.raises(ModelError, match=r"junk\.pt: not a loadable vggface2 state dict"):
        create_identity_model("vggface2", weights=path)


def test_vggface2_missing_weights(tmp_path):
    with pytest.raises(ModelError, match=r"missing\.pt: face-identity weights file not found"):
        create_identity_model("vggface2", weights=tmp_path / "missing.pt")
