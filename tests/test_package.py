"""The package a user installs: the wheel carries the default weights and their card, and the
weights are found through the package, not through a checkout."""

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import lecturelens
from lecturelens.models import WEIGHTS_DIR, all_models

ROOT = Path(__file__).resolve().parents[1]
# What a wheel is built from; copied so that the build leaves no build/ or egg-info behind in
# the working tree (and two test runs never share one).
SOURCES = ("setup.cfg", "pyproject.toml", "MANIFEST.in", "README.md", "lecturelens")


def _own_weight_files():
    """The registry's weight files that LectureLens ships itself (``weights:`` sources)."""
    return [wf for e in all_models() for wf in e.files if wf.source.startswith("weights:")]


def test_default_weights_resolve_inside_the_package():
    own = _own_weight_files()
    assert own, "the default emotion model ships its own weights"
    pkg = Path(lecturelens.__file__).resolve().parent
    assert WEIGHTS_DIR == pkg / "weights"
    for wf in own:
        assert wf.path().parent == WEIGHTS_DIR and wf.path().is_file(), wf.source
    assert (WEIGHTS_DIR / "lensnet_fer.md").is_file()  # the card next to the weights


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    pytest.importorskip("setuptools")
    pytest.importorskip("wheel")
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        p = ROOT / name
        if p.is_dir():
            shutil.copytree(p, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif p.is_file():
            shutil.copy2(p, src / name)
    out = tmp_path_factory.mktemp("wheel")
    # No build isolation: the build needs no network, only this environment's setuptools.
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--no-index", "-q", "-w", str(out), str(src)],
                   check=True, capture_output=True, timeout=300)
    (whl,) = out.glob("lecturelens-*.whl")
    return whl


def test_wheel_carries_the_default_weights_and_their_card(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for wf in _own_weight_files():
        assert f"lecturelens/weights/{wf.filename}" in names, wf.filename
    assert {"lecturelens/weights/lensnet_fer.md", "lecturelens/weights/README.md",
            "lecturelens/py.typed"} <= names
    assert not any(n.startswith("models/") for n in names)


def test_one_version_number(wheel):
    """The wheel, ``lecturelens --version`` and the docs agree: the package's __version__."""
    assert re.fullmatch(r"\d+\.\d+\.\d+", lecturelens.__version__)
    assert wheel.name.startswith(f"lecturelens-{lecturelens.__version__}-")
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        # no hand-written release numbers ("Status (v0.2)") that drift from the package's
        assert not re.search(r"\bv\d+\.\d+\b", doc.read_text(encoding="utf-8")), doc.name
