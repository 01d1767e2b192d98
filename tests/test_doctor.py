"""`lecturelens doctor`: Tesseract languages and PP-OCR (rapidocr) checks."""

from __future__ import annotations

import shutil
import sys

import pytest
from click.testing import CliRunner

from lecturelens import doctor, scripts
from lecturelens.cli import cli


def _needs_tesseract():
    if shutil.which("tesseract") is None:
        pytest.skip("tesseract not installed (apt-get install tesseract-ocr)")


def test_languages_lists_installed_and_missing_packages(monkeypatch):
    _needs_tesseract()
    monkeypatch.setattr(scripts, "installed_tesseract_languages",
                        lambda: {"eng", "osd", "rus", "fra"})
    check = doctor._tesseract_languages()
    assert not check.ok and not check.required  # auto falls back; names just read worse
    assert check.detail.startswith("installed: eng, fra, rus; missing: Latin (accented")
    assert "kor (Korean names)" in check.detail and "osd" not in check.detail
    assert check.fix == ("sudo apt-get install -y tesseract-ocr-script-latn tesseract-ocr-kor "
                         "tesseract-ocr-chi-sim tesseract-ocr-ara")


def test_languages_ok_when_the_common_ones_are_installed(monkeypatch):
    _needs_tesseract()
    monkeypatch.setattr(scripts, "installed_tesseract_languages",
                        lambda: set(doctor.COMMON_LANGS) | {"osd", "jpn"})
    check = doctor._tesseract_languages()
    assert check.ok and check.detail == "installed: Latin, ara, chi_sim, eng, jpn, kor, rus"


def test_languages_without_tesseract(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    check = doctor._tesseract_languages()
    assert not check.ok and not check.required and "tesseract missing" in check.detail


def test_rapidocr_missing_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)  # import fails
    check = doctor._rapidocr()
    assert not check.ok and not check.required
    assert "cannot import rapidocr_onnxruntime" in check.detail
    assert "pip install --no-deps rapidocr-onnxruntime==1.4.4" in check.fix
    assert "onnxruntime pyclipper shapely PyYAML six" in check.fix


def test_rapidocr_present_names_its_models():
    pytest.importorskip("rapidocr_onnxruntime", reason="rapidocr-onnxruntime not installed "
                        "(make install)")
    check = doctor._rapidocr()
    assert check.ok, check.detail
    assert "rapidocr-onnxruntime 1.4.4" in check.detail and "det" in check.detail


def test_doctor_output_has_language_and_rapidocr_lines(monkeypatch):
    monkeypatch.setattr(scripts, "installed_tesseract_languages", lambda: {"eng", "osd"})
    # Only the two new checks: the others (torch, models, OpenCV) are tested in test_cli.py.
    monkeypatch.setattr(doctor, "CHECKS", [doctor._tesseract_languages, doctor._rapidocr])
    res = CliRunner().invoke(cli, ["doctor"])
    assert "] tesseract languages: " in res.output and "] rapidocr: " in res.output
    if shutil.which("tesseract"):
        assert "[warn] tesseract languages: installed: eng; missing: Latin" in res.output
        assert "fix: sudo apt-get install -y tesseract-ocr-script-latn" in res.output
    assert res.exit_code == 0  # both are optional: warnings, not failures
