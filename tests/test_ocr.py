"""The label engines: PP-OCR + Tesseract on Zoom-like labels, and their vote.

Frames are drawn at test time: small white names on dark grey boxes at the bottom-left of
tiles, with Zoom's red muted-microphone icon before the name, and a toolbar below.
"""

import importlib.util
import shutil

import numpy as np
import pytest

from lecturelens.fonts import label_font
from lecturelens.ocr import merge_letters, mute_colour, respace, skeleton, vote

needs_ppocr = pytest.mark.skipif(
    importlib.util.find_spec("rapidocr_onnxruntime") is None,
    reason="rapidocr-onnxruntime is not installed (make install)")
needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None,
                                     reason="tesseract is not installed")


@pytest.mark.parametrize("pp, tess, want", [
    (("TomaszWojcik", 0.98), ("Tomasz Wójcik", 0.95), "Tomasz Wójcik"),  # accents, space
    (("Ana Garcia", 0.96), ("Ana Garcfa", 0.75), "Ana Garcia"),  # Tesseract's f for í
    (("", 0.0), ("김민준", 0.96), "김민준"),  # Hangul: PP-OCR has none
    (("OnerleTpoB", 0.90), ("Олег Петров", 0.95), "Олег Петров"),  # Cyrillic
    (("Kim(20200756)", 0.97), ("ㆍ", 0.76), "Kim(20200756)"),  # one stray jamo loses
    (("王小明", 0.99), ("EJA", 0.52), "王小明"),  # Han: PP-OCR's
    (("LeaDubois", 0.99), ("", 0.0), "Lea Dubois"),  # PP-OCR alone, spaces put back
    (("", 0.0), ("", 0.0), ""),
    (("JeromeFaure", 0.95), ("Jérôme Fà ure", 0.9), "Jérôme Fàure"),  # a split word
    (("Ana da Silva", 0.95), ("Ana da Silva", 0.9), "Ana da Silva"),  # a particle stays
])
def test_vote(pp, tess, want):
    assert vote(pp, tess)[0] == want


def test_vote_sources_and_confidence():
    assert vote(("Ben Okafor", 0.9), ("Ben Okafor", 0.8)) == ("Ben Okafor", 0.9, "both")
    assert vote(None, ("Ben", 0.7)) == ("Ben", 0.7, "tesseract")
    assert vote(("Ben", 0.7), None) == ("Ben", 0.7, "ppocr")


def test_helpers():
    assert skeleton("Tomasz Wójcik") == skeleton("TomaszW6jcik")
    assert respace("(Beginner)Kim") == "(Beginner) Kim"
    assert respace("20200759Lee") == "20200759 Lee"
    assert respace("McDonald") == "Mc Donald"  # the price of putting spaces back
    assert merge_letters("Soren Lund", "Søren Lund") == "Søren Lund"  # ø is kept
    assert merge_letters("Nguyen Van An", "Nguyên Văn An") == "Nguyên Văn An"


def test_mute_colour_paints_the_red_icon_with_the_ground():
    crop = np.full((20, 60, 3), 45, np.uint8)
    crop[5:15, 2:12] = (220, 50, 50)  # red mic
    crop[6:14, 20:22] = 240  # a white stroke
    out = mute_colour(crop)
    assert (out[5:15, 2:12] == 45).all() and (out[6:14, 20:22] == 240).all()
    assert (crop[5:15, 2:12] == (220, 50, 50)).all()  # the input is not changed


def _zoom_frame(names, text_px=11, width=960, height=540):
    """A 3-column gallery of grey tiles with Zoom-like labels and a toolbar; returns
    ``(frame, label boxes)``."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (width, height), (18, 18, 18))
    draw = ImageDraw.Draw(img)
    font = label_font(text_px)
    cols = 3
    tw, th = (width - 20) // cols, (height - 80) // ((len(names) + cols - 1) // cols)
    boxes = []
    for i, name in enumerate(names):
        r, c = divmod(i, cols)
        x, y = 10 + c * tw, 20 + r * th
        draw.rectangle([x + 2, y + 2, x + tw - 3, y + th - 3], fill=(70, 90, 110))
        lh = text_px + 8
        draw.rectangle([x + 2, y + th - 3 - lh, x + 2 + text_px + 12
                        + int(font.getlength(name)), y + th - 3], fill=(45, 45, 45))
        draw.rectangle([x + 5, y + th - lh, x + 5 + text_px - 2, y + th - 6],
                       fill=(220, 50, 50))
        draw.text((x + text_px + 8, y + th - 3 - lh + 3), name, font=font,
                  fill=(240, 240, 240))
        boxes.append((x, y + th - 3 - lh, x + tw, y + th))
    for k, word in enumerate(["Mute", "Stop Video", "Participants 12", "Chat", "Leave"]):
        draw.text((40 + k * 180, height - 28), word, font=font, fill=(200, 200, 200))
    return np.asarray(img).copy(), boxes


@needs_ppocr
@needs_tesseract
def test_reader_reads_small_zoom_labels_with_icons():
    from lecturelens.names import NameReader, is_ui_text, plausible_name

    names = ["Zoë Adams", "Tomasz Wójcik", "Ben Okafor", "Léa Dubois", "Farid Haddad",
             "José Muñoz"]
    frame, boxes = _zoom_frame(names)
    reader = NameReader(lang="Latin", engine="ppocr+tesseract")
    labels = reader.find(frame)
    reader.read(frame, labels)
    got = {}
    for lb in labels:
        cx, cy = (lb.box[0] + lb.box[2]) / 2, (lb.box[1] + lb.box[3]) / 2
        for name, (x1, y1, x2, y2) in zip(names, boxes):
            if x1 <= cx < x2 and y1 <= cy < y2 and plausible_name(lb.text, lb.conf):
                got[name] = lb.text
    assert got == {n: n for n in names}
    assert reader.calls == 1  # one Tesseract process for the whole frame
    toolbar = [lb.text for lb in labels if lb.box[1] > frame.shape[0] - 40]
    assert toolbar and all(is_ui_text(t) for t in toolbar)


def test_join_line_pieces_joins_one_label_not_two_tiles():
    from lecturelens.ocr import join_line_pieces

    # a label cut in two over bright video (a word space apart), and the next tile's label
    # a tile gap and margins away
    boxes = [(10, 100, 80, 114), (86, 101, 120, 114), (160, 100, 230, 114),
             (10, 200, 60, 228)]  # a taller line below stays apart
    assert sorted(join_line_pieces(boxes)) == [(10, 100, 120, 114), (10, 200, 60, 228),
                                               (160, 100, 230, 114)]
    assert join_line_pieces([]) == []
