"""LectureLens: offline analysis of recorded video lectures (gallery view).

The library never imports click; :mod:`lecturelens.cli` is a thin shell over it.
"""

__version__ = "0.2.0"  # the one version number: setup.cfg, --version, run.json, reports

from lecturelens.config import AnalyzeConfig  # noqa: E402
from lecturelens.errors import InputError, LectureLensError  # noqa: E402

__all__ = ["AnalyzeConfig", "InputError", "LectureLensError", "__version__", "analyze"]


def analyze(video, outdir, config=None, progress=True):
    """Analyse one recording; see :func:`lecturelens.pipeline.analyze`."""
    from lecturelens.pipeline import analyze as _analyze

    return _analyze(video, outdir, config=config, progress=progress)
