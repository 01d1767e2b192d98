import pytest

from lecturelens.errors import ModelError
from lecturelens.models import REGISTRY, ModelEntry, WeightFile, get_model_entry, sha256_file


def test_default_models_ship_offline_and_verify():
    defaults = [e for e in REGISTRY.values() if e.default]
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
