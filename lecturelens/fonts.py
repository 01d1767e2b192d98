"""The font of captions and name labels: DejaVu Sans (it draws accented Latin, Cyrillic and
Arabic letters) when installed, else Pillow's bundled default (ASCII only).

Used by the GIF captions (:mod:`lecturelens.gifs`) and by the gallery composer of the
development tools, whose name labels the OCR tests read back.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

# Fonts that draw the accented Latin-1 letters of the names (Pillow's bundled default font
# only covers ASCII): matplotlib's copy of DejaVu Sans when matplotlib is installed, then
# Debian's fonts-dejavu-core.
_DEJAVU_DIRS = ["/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu",
                "/usr/local/share/fonts/dejavu"]


def _font_file(bold: bool = False) -> Path | None:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    dirs = []
    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.origin:
        dirs.append(Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf")
    dirs += [Path(d) for d in _DEJAVU_DIRS]
    return next((d / name for d in dirs if (d / name).is_file()), None)


@functools.lru_cache(maxsize=64)
def label_font(size: int, bold: bool = False):
    """The font of name labels, captions and slides: DejaVu Sans when installed, else
    Pillow's default.

    Args:
        size: pixel size.
        bold: the bold face (falls back to the regular one).

    Returns:
        A ``PIL.ImageFont.FreeTypeFont``.
    """
    from PIL import ImageFont

    path = _font_file(bold) or _font_file(False)
    return ImageFont.truetype(str(path), size) if path else ImageFont.load_default(size=size)


def covers(font, text: str, ignore: str = " \u200f\u200e") -> bool:
    """Whether ``font`` has a glyph for every character of ``text`` but those in ``ignore``
    (spaces and the invisible direction marks, by default)."""
    missing = font.getmask("\U000F0000")  # a private-use code point: no font draws it
    missing = (missing.size, bytes(missing))
    for ch in set(text) - set(ignore):
        mask = font.getmask(ch)
        if (mask.size, bytes(mask)) == missing:
            return False
    return True


#: Fonts with Hangul and Han glyphs, in order of preference (Debian's fonts-wqy-microhei,
#: fonts-noto-cjk): the plots fall back to them for Korean and Chinese names.
CJK_FONT_FILES = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
                  "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
                  "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc")


@functools.lru_cache(maxsize=1)
def plot_font_families() -> list[str]:
    """matplotlib's font families for the report's plots: DejaVu Sans, then an installed
    CJK font (registered with matplotlib here), so Korean and Chinese names are drawn, not
    shown as boxes."""
    from matplotlib import font_manager

    families = ["DejaVu Sans"]
    for path in CJK_FONT_FILES:
        if Path(path).is_file():
            font_manager.fontManager.addfont(path)
            families.append(font_manager.FontProperties(fname=path).get_name())
            break
    return families
