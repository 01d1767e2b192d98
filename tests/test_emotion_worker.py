import csv
import json

import numpy as np
import pytest

from lecturelens.config import AnalyzeConfig
from lecturelens.emotion import create_emotion_model, crop_faces
from lecturelens.emotion.worker import EmotionWorker, can_use_worker
from lecturelens.errors import ModelError
from lecturelens.pipeline import analyze


@pytest.fixture(scope="module")
def astronaut_crops(astronaut):
    from lecturelens.detect import FaceDetector

    (faces,) = FaceDetector().detect([astronaut])
    crop = crop_faces(astronaut, faces[:1], 48)[0].astype(np.int16)
    crops = np.stack([crop, crop[:, ::-1], crop - 40, crop + 40, (crop - 128) // 2 + 128])
    return np.clip(crops, 0, 255).astype(np.uint8)


def test_worker_gives_the_in_process_results_in_submission_order(astronaut_crops):
    here = create_emotion_model("lensnet-fer", threads=1)
    frames = [astronaut_crops, astronaut_crops[::-1][:3], astronaut_crops[1:2]]
    with EmotionWorker("lensnet-fer") as worker:
        assert worker.name == "lensnet-fer" and worker.classes == here.classes
        assert worker.feature_dim == here.feature_dim
        assert worker.precision == here.precision
        assert worker.weights[0]["sha256"] == here.weights[0]["sha256"]
        for crops in frames:
            worker.submit(crops, batch_size=2)
        assert worker.in_flight == 3
        for crops in frames:
            probs, feats = worker.result()
            p, f = here.predict(crops)
            assert probs.shape == p.shape and feats.shape == f.shape
            np.testing.assert_allclose(probs, p, atol=1e-3)
            np.testing.assert_allclose(feats, f, atol=1e-2)
        assert worker.in_flight == 0 and worker.busy_seconds > 0
        with pytest.raises(RuntimeError, match="without a submitted frame"):
            worker.result()
    assert worker.peak_rss_mb and worker.peak_rss_mb > 50
    worker.close()  # closing twice is harmless


def test_worker_load_errors_are_the_models_own_one_line_errors(tmp_path):
    with pytest.raises(ModelError, match="lensnet-fer"):
        EmotionWorker("no-such-model").wait_ready()
    bad = tmp_path / "lensnet.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match=r"lensnet.pt: not a loadable lensnet-fer weights file"):
        EmotionWorker("lensnet-fer", weights=str(bad)).wait_ready()


def test_a_dead_worker_is_reported_not_waited_for(astronaut_crops):
    worker = EmotionWorker("lensnet-fer").wait_ready()
    worker._proc.kill()
    worker.submit(astronaut_crops)
    with pytest.raises(ModelError, match="emotion worker process died"):
        worker.result()


def _emotions(dest):
    with open(dest / "observations.csv", newline="") as fh:
        return [(r["t"], r["track_id"], r["emotion"]) for r in csv.DictReader(fh)]


@pytest.mark.skipif(not can_use_worker(), reason="the emotion worker needs two cores")
def test_analyze_with_and_without_the_worker_agree(tmp_path, astronaut_gallery):
    a = analyze(astronaut_gallery, tmp_path / "worker", AnalyzeConfig(fps=2.0, gifs="none"),
                progress=False)
    b = analyze(astronaut_gallery, tmp_path / "inline",
                AnalyzeConfig(fps=2.0, gifs="none", emotion_worker=False), progress=False)
    emo = {r["models"][-1]["process"]: r for r in (a, b)}
    assert set(emo) == {"worker", "main"}
    assert "emotion_worker" in a["timings"] and a["emotion_worker_peak_rss_mb"] > 50
    assert "emotion_worker" not in b["timings"]
    da, db = tmp_path / "worker" / "astro_2x2", tmp_path / "inline" / "astro_2x2"
    assert _emotions(da) == _emotions(db) and len(_emotions(da)) == 32
    fa, fb = np.load(da / "emotion_features.npy"), np.load(db / "emotion_features.npy")
    assert fa.shape == fb.shape
    np.testing.assert_allclose(fa.astype(np.float32), fb.astype(np.float32), atol=0.05)
    assert json.loads((da / "run.json").read_text())["status"] == "ok"
