import json

import numpy as np
import pytest

from lecturelens.dev.compose import data_dir
from lecturelens.emotion import create_emotion_model, crop_faces, emotion_models
from lecturelens.emotion.align import crop_face
from lecturelens.emotion.data import canonical_label
from lecturelens.errors import ModelError


@pytest.fixture(scope="module")
def lensnet():
    return create_emotion_model("lensnet-fer", threads=1)


@pytest.fixture(scope="module")
def astronaut_face(astronaut):
    from lecturelens.detect import FaceDetector

    (faces,) = FaceDetector().detect([astronaut])
    return faces[0]


def test_registry_lists_default_and_hsemotion():
    names = {e.name: e for e in emotion_models()}
    assert names["lensnet-fer"].default and names["lensnet-fer"].installed()
    for n in ["enet_b0_8_best_vgaf", "enet_b0_8_best_afew", "enet_b2_8", "enet_b0_8_va_mtl"]:
        e = names[n]
        assert e.files[0].url.startswith("https://") and e.input_size in (224, 260)


def test_unknown_and_wrong_task_names():
    with pytest.raises(ModelError, match="choose from: .*lensnet-fer"):
        create_emotion_model("fer-plus-plus")
    with pytest.raises(ModelError, match="not an emotion model"):
        create_emotion_model("mtcnn")


def test_missing_download_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("LECTURELENS_HOME", str(tmp_path))
    with pytest.raises(ModelError, match="models fetch enet_b0_8_best_vgaf.*--emotion-weights"):
        create_emotion_model("enet_b0_8_best_vgaf")


def test_label_aliases():
    assert canonical_label("Anger") == "angry" and canonical_label("happiness") == "happy"
    assert canonical_label("Sadness") == "sad" and canonical_label("banana") is None


def test_predict_shapes_and_probabilities(lensnet):
    crops = np.random.default_rng(0).integers(0, 255, (25, 48, 48, 3), dtype=np.uint8)
    probs, feats = lensnet.predict(crops)
    assert probs.shape == (25, 7) and feats.shape == (25, lensnet.feature_dim)
    assert np.allclose(probs.sum(1), 1, atol=1e-5)
    p0, f0 = lensnet.predict(crops[:0])
    assert p0.shape == (0, 7) and f0.shape == (0, lensnet.feature_dim)
    # any crop size is accepted and resized
    big, _ = lensnet.predict(np.repeat(np.repeat(crops[:2], 2, 1), 2, 2))
    assert big.shape == (2, 7)


def test_smiling_astronaut_is_happy(lensnet, astronaut, astronaut_face):
    probs, _ = lensnet.predict_frame(astronaut, [astronaut_face])
    assert lensnet.classes[int(probs[0].argmax())] == "happy"


def test_crop_face_levels_eyes(astronaut, astronaut_face):
    import cv2

    f = astronaut_face
    crop = crop_face(astronaut, f.box, f.landmarks, 96)
    assert crop.shape == (96, 96, 3) and crop.dtype == np.uint8
    # rotate the frame by 20 degrees: the aligned crop should look about the same
    h, w = astronaut.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 20, 1.0)
    rot = cv2.warpAffine(astronaut, m, (w, h))
    lm = np.c_[f.landmarks, np.ones(5)] @ m.T
    crop_rot = crop_face(rot, None, lm, 96)
    diff = np.abs(crop.astype(int) - crop_rot.astype(int)).mean()
    assert diff < 20
    # fallbacks: box only, nothing at all
    assert crop_face(astronaut, f.box, None, 48).shape == (48, 48, 3)
    assert crop_face(astronaut, None, None, 48).shape == (48, 48, 3)
    assert crop_faces(astronaut, [], 48).shape == (0, 48, 48, 3)


def _save_hsemotion_like(path, arch="tf_efficientnet_b0", n_out=8):
    """A whole-model pickle in HSEmotion's format: timm EfficientNet, Sequential classifier."""
    import timm
    import torch

    torch.manual_seed(0)
    m = timm.create_model(arch, pretrained=False, num_classes=n_out)
    m.classifier = torch.nn.Sequential(torch.nn.Linear(m.num_features, n_out))
    m.eval()
    torch.save(m, path)
    return m


def test_hsemotion_loader_on_a_checkpoint_made_here(tmp_path):
    import torch

    path = tmp_path / "enet_b0_8_best_vgaf.pt"
    ref = _save_hsemotion_like(path)
    em = create_emotion_model("enet_b0_8_best_vgaf", weights=path, threads=1)
    assert em.input_size == 224 and em.feature_dim == 1280
    assert em.weights[0]["path"] == str(path) and len(em.weights[0]["sha256"]) == 64
    crops = np.random.default_rng(1).integers(0, 255, (3, 224, 224, 3), dtype=np.uint8)
    probs, feats = em.predict(crops)
    x = torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255
    x = (x - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / \
        torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.inference_mode():
        expected = ref(x).softmax(1).numpy()
    assert np.allclose(probs, expected, atol=1e-4)


def test_hsemotion_multitask_outputs_are_cut_to_the_emotions(tmp_path):
    path = tmp_path / "enet_b0_8_va_mtl.pt"
    _save_hsemotion_like(path, n_out=10)
    em = create_emotion_model("enet_b0_8_va_mtl", weights=path, threads=1)
    probs, _ = em.predict(np.zeros((2, 224, 224, 3), np.uint8))
    assert probs.shape == (2, 8) and np.allclose(probs.sum(1), 1, atol=1e-5)


def test_wrong_architecture_and_malicious_pickles_are_refused(tmp_path):
    import os

    import torch

    b2 = tmp_path / "b2.pt"
    _save_hsemotion_like(b2, arch="tf_efficientnet_b2")
    with pytest.raises(ModelError, match="do not fit"):
        create_emotion_model("enet_b0_8_best_vgaf", weights=b2)

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    evil = tmp_path / "evil.pt"
    torch.save({"model": Evil()}, evil)
    with pytest.raises(ModelError, match="refusing to load"):
        create_emotion_model("enet_b0_8_best_vgaf", weights=evil)
    assert not (tmp_path / "pwned").exists()


def _fer_subset(tmp_path, per_class=25):
    src = data_dir() / "emotion" / "fer2013" / "test"
    if not src.is_dir():
        pytest.skip(f"needs FER2013 in {src} (set LECTURELENS_DATA)")
    for label_dir in sorted(src.iterdir()):
        dst = tmp_path / label_dir.name
        dst.mkdir()
        for f in sorted(label_dir.iterdir())[:per_class]:
            (dst / f.name).symlink_to(f)
    return tmp_path


def test_eval_emotion_on_real_fer_faces(tmp_path):
    from lecturelens.emotion.evaluate import evaluate_folder, format_report

    folder = _fer_subset(tmp_path)
    (folder / "contempt").mkdir()
    (folder / "contempt" / "x.jpg").symlink_to(next((folder / "happy").iterdir()).resolve())
    res = evaluate_folder(folder, progress=False, threads=1)
    assert res["images"] == 7 * 25 and res["skipped"] == {"contempt": 1}
    assert np.array(res["confusion"]).sum() == 175
    assert res["accuracy"] > 0.5  # FER chance level is 0.14; the card reports the full test
    assert res["per_class"]["happy"]["recall"] > 0.7
    assert 0 < res["faces_found"] <= 1
    recalls = [res["per_class"][c]["recall"] for c in res["classes"]]
    assert res["macro_recall"] == pytest.approx(np.mean(recalls))
    report = format_report(res)
    assert "confusion" in report and "macro avg" in report
    json.dumps(res)


def test_eval_emotion_scores_per_class_recall_and_macro_average():
    from lecturelens.emotion.evaluate import confusion_scores, format_report

    # 3 classes; "c" has no images and is never right, "b" is predicted once (wrongly)
    confusion = [[8, 2, 0],   # a: recall 0.8
                 [5, 5, 0],   # b: recall 0.5
                 [0, 0, 0]]   # c: no images
    res = confusion_scores(confusion, ["a", "b", "c"])
    assert res["images"] == 20 and res["accuracy"] == pytest.approx(13 / 20)
    assert res["per_class"]["a"] == {"recall": 0.8, "precision": 8 / 13, "support": 10}
    assert res["per_class"]["c"] == {"recall": None, "precision": None, "support": 0}
    assert res["macro_recall"] == pytest.approx((0.8 + 0.5) / 2)  # c has no images: left out
    assert res["macro_precision"] == pytest.approx((8 / 13 + 5 / 7) / 2)
    res.update(data_dir="d", model="m", precision="int8", faces_found=1.0, ms_per_image=1.0,
               skipped={})
    macro = next(ln for ln in format_report(res).splitlines() if ln.startswith("macro avg"))
    assert macro.split()[2:] == ["0.650", "0.665", "20"]
    json.dumps(res)
    empty = confusion_scores(np.zeros((2, 2), int), ["a", "b"])
    assert empty["macro_recall"] is None and empty["accuracy"] == 0.0


def test_image_folders_take_every_format_opencv_reads(tmp_path):
    import cv2

    from lecturelens.emotion.data import (IMAGE_SUFFIXES, image_hw, list_labelled_images,
                                          load_gray, load_rgb)
    from lecturelens.errors import InputError

    assert {".tif", ".tiff", ".bmp", ".webp", ".jp2", ".pgm", ".ppm", ".pbm", ".png", ".jpg",
            ".jpeg", ".jpe", ".pnm", ".sr", ".ras", ".hdr", ".pic"} <= IMAGE_SUFFIXES
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)
    happy, sad = tmp_path / "happy", tmp_path / "Sadness"
    happy.mkdir()
    sad.mkdir()
    assert cv2.imwrite(str(happy / "a.tif"), img)  # cv2 writes BGR; read back as RGB
    assert cv2.imwrite(str(happy / "b.TIFF"), img)
    assert cv2.imwrite(str(sad / "c.pgm"), img[:, :, 0])
    assert cv2.imwrite(str(sad / "d.sr"), img)
    assert cv2.imwrite(str(sad / "e.hdr"), img.astype(np.float32) / 255)  # Pillow cannot
    assert cv2.imwrite(str(sad / "f.tiff"), img.astype(np.uint16) * 257)  # 16-bit
    (sad / "notes.txt").write_text("not an image")
    items = list_labelled_images(tmp_path)
    assert [(p.name, label) for p, label in items] == [  # folders in sorted order
        ("c.pgm", "sad"), ("d.sr", "sad"), ("e.hdr", "sad"), ("f.tiff", "sad"),
        ("a.tif", "happy"), ("b.TIFF", "happy")]
    for path, _ in items:
        rgb = load_rgb(path)
        assert rgb.shape == (40, 30, 3) and rgb.dtype == np.uint8, path.name
        assert image_hw(path) == (40, 30), path.name
        if path.suffix != ".pgm":  # Radiance HDR's shared exponent rounds a little
            tol = 3 if path.suffix == ".hdr" else 1
            assert np.abs(rgb.astype(int) - img[:, :, ::-1]).max() <= tol, path.name
    x, y = load_gray(items, ("happy", "sad"), size=48)
    assert x.shape == (6, 48, 48) and x.dtype == np.uint8 and y.tolist() == [1, 1, 1, 1, 0, 0]
    (happy / "broken.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match="broken.png: not an image"):
        load_rgb(happy / "broken.png")



def test_a_bad_lensnet_weights_file_is_a_one_line_model_error(tmp_path):
    bad = tmp_path / "lensnet.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match=r"lensnet.pt: not a loadable lensnet-fer weights file"):
        create_emotion_model("lensnet-fer", weights=bad)


def _calibrated_checkpoint(path, seed=0):
    """A lensnet export (float16 weights + int8 ranges) of an untrained net, made here."""
    import torch

    from lecturelens.emotion.nets import build_lensnet
    from lecturelens.emotion.train import export_weights

    torch.manual_seed(seed)
    net = build_lensnet()
    rng = np.random.default_rng(seed)
    export_weights(net, path, rng.integers(0, 256, (64, 48, 48), dtype=np.uint8))
    return path


def test_int8_runs_from_the_calibration_in_the_weight_file(tmp_path, astronaut, astronaut_face):
    pytest.importorskip("torch.ao.quantization.quantize_fx")
    from lecturelens.emotion.quant import CALIBRATION_PREFIX, int8_supported

    if not int8_supported():
        pytest.skip("this PyTorch build has no x86 int8 backend")
    import torch

    w = _calibrated_checkpoint(tmp_path / "cal.pt")
    state = torch.load(w, weights_only=True)
    assert any(k.startswith(CALIBRATION_PREFIX) for k in state)
    crops = crop_faces(astronaut, [astronaut_face] * 4, 48)
    rng = np.random.default_rng(1)
    crops = np.concatenate([crops, rng.integers(0, 256, (12, 48, 48, 3), dtype=np.uint8)])
    fl = create_emotion_model("lensnet-fer", weights=w, threads=1, precision="float")
    q = create_emotion_model("lensnet-fer", weights=w, threads=1, precision="int8")
    assert q.precision == "int8" and fl.precision in ("float32", "bfloat16")
    # auto takes int8 for calibrated weights on every CPU, bfloat16 ones included
    assert create_emotion_model("lensnet-fer", weights=w, threads=1).precision == "int8"
    pf, ff = fl.predict(crops)
    pq, fq = q.predict(crops)
    assert pq.shape == pf.shape and fq.shape == ff.shape == (16, fl.feature_dim)
    assert np.allclose(pq.sum(1), 1, atol=1e-5)
    # int8 follows the float net closely (not bit for bit)
    assert np.abs(pq - pf).max() < 0.05
    assert np.corrcoef(fq.ravel(), ff.ravel())[0, 1] > 0.99


def test_int8_needs_calibrated_weights(tmp_path):
    import torch

    from lecturelens.emotion.nets import build_lensnet

    plain = tmp_path / "plain.pt"
    torch.save({k: v.half() for k, v in build_lensnet().state_dict().items()
                if v.is_floating_point()} | {k: v for k, v in build_lensnet().state_dict()
                                             .items() if not v.is_floating_point()}, plain)
    with pytest.raises(ModelError, match="int8 needs calibrated weights"):
        create_emotion_model("lensnet-fer", weights=plain, precision="int8")
    # auto quietly stays in float without calibration
    assert create_emotion_model("lensnet-fer", weights=plain).precision != "int8"
    with pytest.raises(ModelError, match="precision must be one of auto, float, int8"):
        create_emotion_model("lensnet-fer", weights=plain, precision="fp4")


def test_int8_ranges_of_another_graph_fall_back_or_fail(tmp_path):
    import torch

    from lecturelens.emotion.quant import CALIBRATION_PREFIX, int8_supported

    if not int8_supported():
        pytest.skip("this PyTorch build has no x86 int8 backend")
    w = _calibrated_checkpoint(tmp_path / "cal.pt")
    state = torch.load(w, weights_only=True)
    odd = {k.replace(CALIBRATION_PREFIX, CALIBRATION_PREFIX + "x"): v for k, v in state.items()}
    torch.save(odd, tmp_path / "odd.pt")
    assert create_emotion_model("lensnet-fer", weights=tmp_path / "odd.pt").precision != "int8"
    with pytest.raises(ModelError, match="int8 calibration has"):
        create_emotion_model("lensnet-fer", weights=tmp_path / "odd.pt", precision="int8")


def test_default_model_in_int8_agrees_with_float(astronaut, astronaut_face):
    """The committed nets carry their int8 calibration; int8 tracks float32 on a real face."""
    from lecturelens.emotion.quant import int8_supported

    if not int8_supported():
        pytest.skip("this PyTorch build has no x86 int8 backend")
    crop = crop_faces(astronaut, [astronaut_face], 48)[0].astype(np.int16)
    # the face, its mirror image, darker and brighter, lower contrast
    crops = np.stack([crop, crop[:, ::-1], crop - 40, crop + 40, (crop - 128) // 2 + 128])
    crops = np.clip(crops, 0, 255).astype(np.uint8)
    q = create_emotion_model("lensnet-fer", threads=1, precision="int8")
    fl = create_emotion_model("lensnet-fer", threads=1, precision="float")
    assert q.precision == "int8" and q.feature_dim == fl.feature_dim == 512
    pq, fq = q.predict(crops)
    pf, ff = fl.predict(crops)
    assert (pq.argmax(1) == pf.argmax(1)).all()
    assert np.abs(pq - pf).max() < 0.1, np.abs(pq - pf).max()
    assert np.corrcoef(fq.ravel(), ff.ravel())[0, 1] > 0.98


def test_ensemble_members_run_side_by_side_with_two_threads(astronaut, astronaut_face):
    """With two threads each member runs on one of its own; results are the same, and the
    process keeps its thread count."""
    import torch

    before = torch.get_num_threads()
    crops = crop_faces(astronaut, [astronaut_face] * 3, 48)
    try:
        side = create_emotion_model("lensnet-fer", threads=2)
        assert side._pool is not None
        assert torch.get_num_threads() == 2
        assert list(side._pool.map(lambda _: torch.get_num_threads(), range(2))) == [1, 1]
        one = create_emotion_model("lensnet-fer", threads=1)
        assert one._pool is None
        (ps, fs), (po, fo) = side.predict(crops), one.predict(crops)
        np.testing.assert_allclose(ps, po, atol=1e-6)
        np.testing.assert_allclose(fs, fo, atol=1e-5)
    finally:
        torch.set_num_threads(before)
