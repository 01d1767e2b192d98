import json

import numpy as np
import pytest
from click.testing import CliRunner

from lecturelens.cli import cli
from lecturelens.emotion import create_emotion_model
from lecturelens.emotion.train import FER_CLASSES, train


@pytest.fixture(scope="module")
def tiny_fer(tmp_path_factory, astronaut):
    """A FER-layout folder of real-face crops (labels are arbitrary: this tests the loop)."""
    import cv2
    from PIL import Image

    root = tmp_path_factory.mktemp("fer")
    face = cv2.cvtColor(astronaut[40:220, 150:330], cv2.COLOR_RGB2GRAY)
    rng = np.random.default_rng(0)
    for split, n in [("train", 4), ("val", 2), ("test", 2)]:
        for label in FER_CLASSES:
            (root / split / label).mkdir(parents=True)
            for i in range(n):
                img = cv2.resize(face, (48, 48)).astype(int) + rng.integers(-20, 20, (48, 48))
                Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(
                    root / split / label / f"{i}.jpg")
    return root


def test_train_stop_resume_export(tmp_path, tiny_fer):
    out = tmp_path / "run"
    res = train(tiny_fer, out, epochs=2, batch=8, threads=1, stop_after=1, log=lambda s: None)
    assert res["epochs_done"] == 1 and "test_acc" not in res
    assert (out / "last.pt").exists() and (out / "best.pt").exists()
    res = train(tiny_fer, out, epochs=2, batch=8, threads=1, resume=out / "last.pt",
                export=tmp_path / "w.pt", report_test=True, log=lambda s: None)
    assert res["epochs_done"] == 2 and [h["epoch"] for h in res["history"]] == [1, 2]
    assert 0 <= res["test_acc"] <= 1
    assert len(json.loads((out / "history.json").read_text())) == 2
    # the exported float16 weights load as the default model, in float and (from the
    # calibration the export carries) in int8
    from lecturelens.emotion.quant import CALIBRATION_PREFIX, int8_supported

    import torch

    state = torch.load(tmp_path / "w.pt", weights_only=True)
    assert any(k.startswith(CALIBRATION_PREFIX) for k in state)
    assert all(v.dtype == torch.float16 for k, v in state.items()
               if v.is_floating_point() and not k.startswith(CALIBRATION_PREFIX))
    for precision in ("float", "int8") if int8_supported() else ("float",):
        em = create_emotion_model("lensnet-fer", weights=tmp_path / "w.pt", threads=1,
                                  precision=precision)
        probs, _ = em.predict(np.zeros((1, 48, 48, 3), np.uint8))
        assert probs.shape == (1, 7)


def test_train_emotion_cli_rejects_a_file(tmp_path):
    f = tmp_path / "x.txt"
    f.write_text("x")
    res = CliRunner().invoke(cli, ["train-emotion", str(f)])
    assert res.exit_code == 2


def test_fine_tune_on_the_faces_analyze_would_cut(tmp_path, tiny_fer):
    import cv2

    from lecturelens.emotion.data import face_crops, load_rgb, photo_detector, photo_faces

    train(tiny_fer, tmp_path / "a", epochs=1, batch=8, threads=1, export=tmp_path / "a.pt",
          log=lambda s: None)
    logs = []
    res = train(tiny_fer, tmp_path / "b", epochs=1, batch=8, threads=1, crops="faces",
                init=tmp_path / "a.pt", cache=tmp_path / "cache", report_test=True,
                log=logs.append)
    assert res["epochs_done"] == 1 and 0 <= res["test_acc"] <= 1
    assert any(line.startswith("initialised from") for line in logs)
    d = np.load(tmp_path / "cache" / "train_faces.npz")
    assert d["x"].shape == (4 * 7, 48, 48) and d["found"].mean() > 0.5
    # The training crop of an image is the crop eval-emotion (and analyze) give the model.
    img = load_rgb(tiny_fer / "train" / "angry" / "0.jpg")
    faces = photo_faces(photo_detector(threads=1), [img])
    assert faces[0] is not None
    crop = cv2.cvtColor(face_crops([img], faces, 48)[0], cv2.COLOR_RGB2GRAY)
    assert np.array_equal(crop, d["x"][0])
    assert not np.array_equal(crop, cv2.cvtColor(img, cv2.COLOR_RGB2GRAY))
    with pytest.raises(ValueError, match="crops must be one of"):
        train(tiny_fer, tmp_path / "c", crops="aligned", log=lambda s: None)


def test_a_bad_init_file_is_a_one_line_model_error(tmp_path, tiny_fer):
    from lecturelens.errors import ModelError

    bad = tmp_path / "init.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match=r"init\.pt: not a loadable lensnet-fer weights file"):
        train(tiny_fer, tmp_path / "run", epochs=1, batch=8, threads=1, init=bad,
              log=lambda s: None)


def test_average_from_exports_the_mean_of_the_epochs_weights(tmp_path, tiny_fer):
    import torch

    out = tmp_path / "run"
    train(tiny_fer, out, epochs=2, batch=8, threads=1, stop_after=1, average_from=1,
          log=lambda s: None)
    first = torch.load(out / "last.pt", weights_only=True)["model"]
    # resumed: the running sum travels in last.pt
    res = train(tiny_fer, out, epochs=2, batch=8, threads=1, resume=out / "last.pt",
                average_from=1, export=tmp_path / "w.pt", log=lambda s: None)
    second = torch.load(out / "last.pt", weights_only=True)["model"]
    avg = torch.load(out / "average.pt", weights_only=True)
    assert 0 <= res["average_val"] <= 1
    k = "conv1.weight"
    assert not torch.equal(first[k], second[k])
    torch.testing.assert_close(avg[k], (first[k] + second[k]) / 2)
    torch.testing.assert_close(avg["bn1.running_var"],
                               (first["bn1.running_var"] + second["bn1.running_var"]) / 2)
    exported = torch.load(tmp_path / "w.pt", weights_only=True)
    torch.testing.assert_close(exported[k].float(), avg[k], atol=2e-3, rtol=2e-3)
    # --init takes a run's last.pt too: the weights of its last epoch
    logs = []
    train(tiny_fer, tmp_path / "next", epochs=1, batch=8, threads=1, init=out / "last.pt",
          stop_after=1, log=logs.append)
    assert f"initialised from {out / 'last.pt'}" in logs
    from lecturelens.emotion.train import _load_net

    torch.testing.assert_close(_load_net(out / "last.pt").state_dict()[k], second[k])


def test_a_run_resumed_without_average_from_exports_its_best_epoch(tmp_path, tiny_fer):
    out = tmp_path / "run"
    train(tiny_fer, out, epochs=2, batch=8, threads=1, stop_after=1, average_from=1,
          log=lambda s: None)
    logs = []
    res = train(tiny_fer, out, epochs=2, batch=8, threads=1, resume=out / "last.pt",
                log=logs.append)
    assert "average_val" not in res and not (out / "average.pt").exists()
    assert any("best-on-val" in line for line in logs)


def test_train_emotion_cli_rejects_average_after_the_last_epoch(tiny_fer, tmp_path):
    res = CliRunner().invoke(cli, ["train-emotion", str(tiny_fer), "--epochs", "2",
                                   "--average-from", "3", "--out", str(tmp_path / "r")])
    assert res.exit_code == 2 and "--average-from" in res.output


def test_train_emotion_reads_test_only_when_asked(tiny_fer, tmp_path):
    base = ["train-emotion", str(tiny_fer), "--epochs", "1", "--batch", "8", "--threads", "1"]
    res = CliRunner().invoke(cli, base + ["--out", str(tmp_path / "a")])
    assert res.exit_code == 0, res.output
    assert "test accuracy" not in res.output and "best val accuracy" in res.output
    res = CliRunner().invoke(cli, base + ["--out", str(tmp_path / "b"), "--report-test"])
    assert res.exit_code == 0, res.output
    assert "test accuracy of the best-on-val model" in res.output


def test_report_test_without_a_test_folder_says_so(tiny_fer, tmp_path):
    import shutil

    data = tmp_path / "fer"
    for split in ("train", "val"):
        shutil.copytree(tiny_fer / split, data / split)
    logs = []
    res = train(data, tmp_path / "run", epochs=1, batch=8, threads=1, report_test=True,
                log=logs.append)
    assert "test_acc" not in res
    assert any(line.startswith("no test accuracy:") for line in logs)


def test_distil_from_a_teacher_on_other_crops(tiny_fer, tmp_path):
    import torch

    from lecturelens.emotion.train import _load_net, predict_logits, teacher_targets

    train(tiny_fer, tmp_path / "t", epochs=1, batch=8, threads=1, export=tmp_path / "t.pt",
          log=lambda s: None)
    teachers = [(tmp_path / "t.pt", "whole")]
    cache = tmp_path / "cache"
    runs = {}
    for weight in (0.0, 1.0):
        logs = []
        runs[weight] = train(tiny_fer, tmp_path / f"s{weight}", epochs=1, batch=8, threads=1,
                             seed=3, cache=cache, teachers=teachers, teacher_weight=weight,
                             log=logs.append)
        assert any(line.startswith("distilling from 1 teacher(s)") for line in logs)
    # The soft targets are the teacher's flip-averaged probabilities on the train images...
    [f] = cache.glob("teacher_*.npz")
    x = np.load(cache / "train.npz")["x"]
    want = torch.from_numpy(predict_logits(_load_net(tmp_path / "t.pt"), x)).softmax(1).numpy()
    np.testing.assert_allclose(np.load(f)["probs"], want, atol=1e-5)
    # ...computed once (the second run read the cache)...
    mtime = f.stat().st_mtime_ns
    teacher_targets(tiny_fer, teachers, cache, threads=1, log=lambda s: None)
    assert f.stat().st_mtime_ns == mtime
    # ...and they are what a teacher-only loss trains on: same seed, different loss.
    assert runs[0.0]["history"][0]["loss"] != pytest.approx(runs[1.0]["history"][0]["loss"])
    # A run from cached targets starts where the run that computed them started.
    again = train(tiny_fer, tmp_path / "again", epochs=1, batch=8, threads=1, seed=3,
                  cache=cache, teachers=teachers, teacher_weight=0.0, log=lambda s: None)
    assert again["history"][0]["loss"] == runs[0.0]["history"][0]["loss"]


def test_train_emotion_cli_checks_teachers(tiny_fer, tmp_path):
    base = ["train-emotion", str(tiny_fer), "--out", str(tmp_path / "r"), "--epochs", "1"]
    res = CliRunner().invoke(cli, base + ["--teacher", str(tmp_path / "missing.pt")])
    assert res.exit_code == 2 and "missing.pt: no such weights file" in res.output
    w = tmp_path / "w.pt"
    w.write_bytes(b"x")
    res = CliRunner().invoke(cli, base + ["--teacher", f"sideways={w}"])
    assert res.exit_code == 2 and "CROPS must be one of whole, faces" in res.output
    res = CliRunner().invoke(cli, base + ["--teacher-weight", "1.5"])
    assert res.exit_code == 2


def test_faces_warp_cuts_the_crop_eval_gets_and_augments_it(tmp_path, tiny_fer):
    import torch

    from lecturelens.emotion.train import _augment, _load_split, _warp

    cache = tmp_path / "cache"
    x, y, maps = _load_split(tiny_fer, "train", cache, "faces-warp", threads=1)
    faces, yf = _load_split(tiny_fer, "train", cache, "faces", threads=1)
    assert x.shape == faces.shape and np.array_equal(y, yf) and maps.shape == (len(x), 2, 3)
    found = np.load(cache / "train_faces.npz")["found"]
    assert found.mean() > 0.5
    # With no augmentation the warp is the crop eval-emotion cuts (OpenCV's rounding aside),
    # mirrored borders included: the tiny faces reach past their 48 px photos.
    photos = torch.from_numpy(x).float()[:, None] / 255
    identity = torch.tensor([[1.0, 0, 0], [0, 1, 0]]).expand(len(x), 2, 3)
    cut = _warp(photos, torch.from_numpy(maps), identity, 48)[:, 0].numpy() * 255
    assert np.abs(cut - faces).max() <= 1.0
    assert np.abs(cut[found] - x[found]).mean() > 5  # the crop is not the photo
    # Augmented: a different cut each draw, same shape, in range.
    gen = torch.Generator().manual_seed(0)
    a = _augment(photos, gen, torch.from_numpy(maps))
    b = _augment(photos, gen, torch.from_numpy(maps))
    assert a.shape == (len(x), 1, 48, 48) and 0 <= float(a.min()) and float(a.max()) <= 1
    assert not torch.equal(a, b)
    res = train(tiny_fer, tmp_path / "run", epochs=1, batch=8, threads=1, crops="faces-warp",
                cache=cache, report_test=True, log=lambda s: None)
    assert res["epochs_done"] == 1 and 0 <= res["test_acc"] <= 1


def test_faces_cache_made_before_landmarks_is_redone(tmp_path, tiny_fer):
    from lecturelens.emotion.train import _load_split

    cache = tmp_path / "cache"
    cache.mkdir()
    np.savez(cache / "val_faces.npz", x=np.zeros((1, 48, 48), np.uint8), y=np.zeros(1, int))
    logs = []
    x, y, maps = _load_split(tiny_fer, "val", cache, "faces-warp", threads=1, log=logs.append)
    assert len(x) == len(maps) == 2 * 7
    assert any("made before landmarks were cached" in line for line in logs)
    assert "lm" in np.load(cache / "val_faces.npz")


def test_soup_exports_the_mean_of_the_nets(tmp_path, tiny_fer, monkeypatch):
    import torch

    import lecturelens.emotion.train as train_mod

    for seed in (1, 2):
        train(tiny_fer, tmp_path / f"r{seed}", epochs=1, batch=8, threads=1, seed=seed,
              log=lambda s: None)
    a, b = tmp_path / "r1" / "best.pt", tmp_path / "r2" / "last.pt"
    res = CliRunner().invoke(cli, ["soup-emotion", str(tiny_fer), str(a), str(b), "--crops",
                                   "whole", "--export", str(tmp_path / "soup.pt"),
                                   "--threads", "1"])
    assert res.exit_code == 0, res.output
    assert "mean of 2 nets: val" in res.output
    sa = torch.load(a, weights_only=True)
    sb = torch.load(b, weights_only=True)["model"]
    assert not torch.equal(sa["conv1.weight"], sb["conv1.weight"])
    got = torch.load(tmp_path / "soup.pt", weights_only=True)
    for k in ("conv1.weight", "bn1.running_mean", "fc.bias"):
        torch.testing.assert_close(got[k].float(), (sa[k] + sb[k]) / 2, atol=2e-3, rtol=2e-3)
    assert create_emotion_model("lensnet-fer", weights=tmp_path / "soup.pt",
                                threads=1).predict(np.zeros((1, 48, 48, 3), np.uint8))[0].shape \
        == (1, 7)
    worse = "warning: the mean is worse than its best net"
    assert (worse in res.output) == (max(float(line.split("val ")[1]) for line in
                                         res.output.splitlines() if ".pt: val " in line)
                                     > float(res.output.split("nets: val ")[1].split()[0]))
    # nets of other lineages average into a broken net: said, not hidden
    scores = iter([0.6, 0.5, 0.2])
    monkeypatch.setattr(train_mod, "_accuracy", lambda *a: next(scores))
    logs = []
    res = train_mod.soup(tiny_fer, [a, b], tmp_path / "bad.pt", crops="whole", threads=1,
                         log=logs.append)
    assert res == {"val": [0.6, 0.5], "soup_val": 0.2}
    assert any(line.startswith("warning: the mean is worse than its best net (0.6000)")
               for line in logs)
    one = CliRunner().invoke(cli, ["soup-emotion", str(tiny_fer), str(a), "--export",
                                   str(tmp_path / "x.pt")])
    assert one.exit_code == 2 and "at least two" in one.output
    assert not (tmp_path / "x.pt").exists()
