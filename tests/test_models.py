import pytest

from lecturelens.errors import ModelError
from lecturelens.models import (ModelEntry, WeightFile, all_models, fetch, get_model_entry,
                               sha256_file)


def test_default_models_ship_offline_and_verify():
    defaults = [e for e in all_models() if e.default]
    assert defaults, "every stage needs an offline default"
    for entry in defaults:
        files = entry.check()
        assert all(len(f["sha256"]) == 64 for f in files)
        assert entry.licence and entry.origin


def test_unknown_model_lists_choices():
    with pytest.raises(ModelError, match="choose from: .*mtcnn"):
        get_model_entry("nope")


def test_checksum_mismatch_and_missing_file(tmp_path):
    w = tmp_path / "w.pt"
    w.write_bytes(b"weights")
    good = ModelEntry("x", "t", "a", (WeightFile(str(w), sha256_file(w)),), "MIT", "test")
    assert good.check()[0]["path"] == str(w)
    bad = ModelEntry("x", "t", "a", (WeightFile(str(w), "0" * 64),), "MIT", "test")
    with pytest.raises(ModelError, match="expected"):
        bad.check()
    gone = ModelEntry("x", "t", "a", (WeightFile(str(tmp_path / "no.pt"), "0" * 64),), "MIT", "t")
    with pytest.raises(ModelError, match="missing"):
        gone.check()
    nopkg = WeightFile("package:no_such_package_xyz/w.pt", "0" * 64)
    assert nopkg.path() is None


def test_every_entry_is_complete():
    for e in all_models():
        assert e.task and e.architecture and e.licence and e.origin and e.files, e.name
        if e.task == "emotion":
            assert e.classes and e.input_size and len(e.mean) == len(e.std) == e.channels


def test_fetch_without_network_says_how_to_get_the_file(tmp_path, monkeypatch):
    import urllib.request

    monkeypatch.setenv("LECTURELENS_HOME", str(tmp_path))

    def offline(*a, **k):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(ModelError, match="cannot download .*copy it to"):
        fetch("enet_b0_8_best_vgaf")
    assert not list(tmp_path.rglob("*.pt"))  # nothing half-downloaded left behind


def test_fetch_verifies_sha256(tmp_path, monkeypatch):
    import io
    import urllib.request

    import lecturelens.models as m

    monkeypatch.setenv("LECTURELENS_HOME", str(tmp_path))
    entry = m.ModelEntry("fake", "emotion", "a", (m.WeightFile("cache:fake.pt", "0" * 64,
                                                                "http://example.invalid/f"),),
                         "MIT", "test")
    monkeypatch.setitem(m._REGISTRY, "fake", entry)

    class Resp(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: Resp(b"not the weights"))
    with pytest.raises(ModelError, match="expected"):
        fetch("fake")
    assert not (tmp_path / "models" / "fake.pt").exists()


def test_user_chosen_weights_are_recorded_not_refused(tmp_path):
    """--emotion-weights with a retrained file: hashed into run.json, marked unverified."""
    good = tmp_path / "w.bin"
    good.write_bytes(b"weights")
    other = tmp_path / "retrained.bin"
    other.write_bytes(b"retrained")
    entry = ModelEntry(name="m", task="emotion", architecture="a", licence="l", origin="o",
                       files=(WeightFile(str(good), sha256_file(good)),))
    (rec,) = entry.check({"w.bin": other})
    assert rec["path"] == str(other) and rec["sha256"] == sha256_file(other)
    assert rec["verified"] is False
    assert entry.check({"w.bin": good})[0]["verified"] is True
