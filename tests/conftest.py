"""Shared fixtures: small real videos made at test time, and the shared data folder."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from lecturelens.compose import compose_gallery, data_dir, face_videos
from lecturelens.ingest import ffmpeg_exe


def _ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args],
                   check=True, capture_output=True)


@pytest.fixture(scope="session")
def ffmpeg():
    """Run the bundled ffmpeg with the given arguments."""
    return _ffmpeg


@pytest.fixture(scope="session")
def testsrc_video(tmp_path_factory) -> Path:
    """A 5 s, 10 fps H.264 test pattern (no faces)."""
    path = tmp_path_factory.mktemp("videos") / "testsrc.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=10:duration=5", "-c:v", "libx264",
            "-pix_fmt", "yuv420p", str(path))
    return path


@pytest.fixture(scope="session")
def astronaut_gallery(tmp_path_factory) -> Path:
    """A 2x2 gallery of the (animated) astronaut photo: real faces with no data folder."""
    path = tmp_path_factory.mktemp("gallery") / "astro_2x2.mp4"
    compose_gallery(path, rows=2, cols=2, duration=4.0, fps=10, width=640, height=360,
                    data_root=Path("/nonexistent"))
    return path


@pytest.fixture(scope="session")
def shared_videos() -> list[Path]:
    """The real face videos of the shared data folder; skip when absent."""
    videos = face_videos()
    if len(videos) < 12:
        pytest.skip(f"needs the 12 face videos in {data_dir() / 'videos'} "
                    "(set LECTURELENS_DATA to the shared data folder)")
    return videos


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()
