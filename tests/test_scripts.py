"""Scripts of names, the Tesseract languages that read them, and CJK/RTL OCR clean-up."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lecturelens.errors import LectureLensError
from lecturelens.scripts import (
    debian_package, installed_tesseract_languages, is_rtl, name_scripts, nfc,
    resolve_ocr_languages, tesseract_langs_for, tidy_ocr_text, undo_cjk_spaces)

#: What this project's machines have (see Makefile system-deps), as a fixed set so the
#: resolution tests do not depend on the machine running them.
INSTALLED = {"Latin", "eng", "kor", "chi_sim", "rus", "ara", "osd"}


# ----------------------------------------------------------------------------- name_scripts


@pytest.mark.parametrize("text, scripts", [
    ("Ana García", {"latin"}),
    ("Ｊｏｓé", {"latin"}),  # full-width Latin, as some Japanese IMEs type it
    ("강미숙", {"hangul"}),
    ("ᄀ ㅎ", {"hangul"}),  # conjoining and compatibility jamo
    ("王小明", {"han"}),
    ("山田たろう", {"han", "kana"}),
    ("ヤマダ ｶﾀ", {"kana"}),  # katakana, half-width katakana
    ("Иван Петров", {"cyrillic"}),
    ("محمد علي", {"arabic"}),
    ("Γιώργος", {"greek"}),
    ("שרה לוי", {"hebrew"}),
    ("अमित", {"devanagari"}),
    ("สมชาย", {"thai"}),
    ("ნინო", {"georgian"}),
    ("Kim 민준 (TA) 2", {"latin", "hangul"}),
    ("12 - (3)", set()),
    ("ᠮᠣᠩ", {"other"}),  # Mongolian: letters, but no Tesseract language mapped
])
def test_name_scripts(text, scripts):
    assert name_scripts(text) == scripts


def test_is_rtl():
    assert is_rtl("محمد علي") and is_rtl("שרה לוי (TA)")
    assert not is_rtl("Ana García") and not is_rtl("") and not is_rtl("Ali محمد Smith Jr")


# ----------------------------------------------------------------------------- languages


def test_tesseract_langs_for_preferred_models_cjk_first_latin_last():
    assert tesseract_langs_for({"latin", "hangul"}) == ["kor", "Latin"]
    assert tesseract_langs_for({"latin", "arabic", "cyrillic", "han", "hangul"}) == [
        "kor", "chi_sim", "rus", "ara", "Latin"]
    assert tesseract_langs_for({"greek", "hebrew", "devanagari", "thai", "kana"}) == [
        "jpn", "ell", "heb", "hin", "tha"]
    assert tesseract_langs_for({"other", "nonsense"}) == []


def test_tesseract_langs_for_installed():
    assert tesseract_langs_for({"latin"}, {"eng"}) == ["eng"]  # Latin model missing
    assert tesseract_langs_for({"latin"}, {"eng", "Latin"}) == ["Latin"]
    # Script models stand in for missing language models, in the form Tesseract lists them.
    assert tesseract_langs_for({"hangul", "latin"}, {"Hangul", "eng"}) == ["Hangul", "eng"]
    assert tesseract_langs_for({"hangul"}, {"script/Hangul"}) == ["script/Hangul"]
    assert tesseract_langs_for({"greek", "latin"}, INSTALLED) == ["Latin"]
    # Japanese names mix kana and kanji: jpn reads both, chi_sim is not added.
    assert tesseract_langs_for({"kana", "han"}, INSTALLED | {"jpn"}) == ["jpn"]
    assert tesseract_langs_for({"kana", "han"}, INSTALLED) == ["chi_sim"]


@pytest.mark.parametrize("lang, package", [
    ("kor", "tesseract-ocr-kor"), ("chi_sim", "tesseract-ocr-chi-sim"),
    ("chi_tra_vert", "tesseract-ocr-chi-tra-vert"), ("eng", "tesseract-ocr-eng"),
    ("Latin", "tesseract-ocr-script-latn"), ("Hangul", "tesseract-ocr-script-hang"),
    ("HanS", "tesseract-ocr-script-hans"), ("HanT_vert", "tesseract-ocr-script-hant-vert"),
    ("Cyrillic", "tesseract-ocr-script-cyrl"), ("Arabic", "tesseract-ocr-script-arab"),
    ("script/Latin", "tesseract-ocr-script-latn"), ("srp_latn", "tesseract-ocr-srp-latn"),
])
def test_debian_package(lang, package):
    assert debian_package(lang) == package


# ----------------------------------------------------------------------------- resolving


@pytest.mark.parametrize("roster, langs", [
    (None, "Latin"),
    ([], "Latin"),
    (["Ana García", "Ben Okafor"], "Latin"),
    (["Ana García", "강미숙"], "kor+Latin"),
    (["王小明", "강미숙", "Иван Петров", "محمد علي", "Léa Dubois"], "kor+chi_sim+rus+ara+Latin"),
])
def test_auto_follows_the_roster_scripts(roster, langs):
    assert resolve_ocr_languages("auto", roster, INSTALLED) == (langs, [])


def test_auto_without_latin_model_reads_english():
    assert resolve_ocr_languages("auto", None, {"eng", "osd"}) == ("eng", [])
    assert resolve_ocr_languages("AUTO", ["김민준"], {"eng", "kor"}) == ("kor+eng", [])


def test_auto_warns_and_falls_back_when_data_is_missing():
    langs, warns = resolve_ocr_languages("auto", ["Γιώργος Π.", "Ana", "ᠮᠣᠩ"], INSTALLED)
    assert langs == "Latin"
    assert len(warns) == 2 and all("\n" not in w for w in warns)
    greek = next(w for w in warns if "Greek" in w)
    assert "apt-get install tesseract-ocr-ell" in greek and "reading names with Latin" in greek
    assert any("--ocr-lang" in w for w in warns)  # the unmapped (Mongolian) letters


def test_auto_needs_latin_or_english():
    with pytest.raises(LectureLensError, match="apt-get install tesseract-ocr-script-latn") as e:
        resolve_ocr_languages("auto", ["강미숙"], {"kor", "osd"})
    assert "(installed: kor)" in str(e.value)  # osd is not offered as a language


@pytest.mark.parametrize("lang, langs", [
    ("none", "none"), (" None ", "none"), ("kor+eng", "kor+eng"), ("Latin+rus", "Latin+rus"),
    ("eng+eng", "eng"), ("chi_sim", "chi_sim"),
])
def test_explicit_languages(lang, langs):
    assert resolve_ocr_languages(lang, ["강미숙"], INSTALLED) == (langs, [])


def test_explicit_accepts_any_installed_model():
    assert resolve_ocr_languages("my_names+eng", None, INSTALLED | {"my_names"}) == (
        "my_names+eng", [])
    assert resolve_ocr_languages("Latin", None, {"script/Latin"}) == ("script/Latin", [])


@pytest.mark.parametrize("lang, words", [
    ("jpn", "tesseract has no language data for jpn; apt-get install tesseract-ocr-jpn "
            "(installed: Latin, ara, chi_sim, eng, kor, rus)"),
    ("kor+HanT", "no language data for HanT; apt-get install tesseract-ocr-script-hant"),
    ("xx", "unknown OCR language 'xx' (installed: Latin, ara"),
    ("eng+fr4", "unknown OCR language 'fr4'"),
    ("kor++eng", "unknown OCR language ''"),
    ("latin", "unknown OCR language 'latin' (did you mean 'Latin'?"),
    ("chi-sim", "did you mean 'chi_sim'?"),
    ("osd", "'osd' is Tesseract's orientation and script detection data"),
])
def test_explicit_errors_are_one_line_with_the_fix(lang, words):
    with pytest.raises(LectureLensError) as err:
        resolve_ocr_languages(lang, None, INSTALLED)
    assert words in str(err.value) and "\n" not in str(err.value)
    assert "osd" not in str(err.value).split("installed:")[-1]


# ----------------------------------------------------------------------------- OCR text


@pytest.mark.parametrize("text, expected", [
    ("강 미 숙", "강미숙"),
    ("초급 강 미 숙", "초급강미숙"),  # documented cost: two Korean words become one
    ("김 민준", "김민준"),
    ("王 小 明", "王小明"),
    ("山田 たろう", "山田たろう"),
    ("Kim 민 준", "Kim 민준"),  # Latin next to Hangul keeps its space
    ("강 미 숙 (TA)", "강미숙 (TA)"),
    ("2 강 미숙", "2 강미숙"),
    ("姜 미숙", "姜 미숙"),  # Han next to Hangul: a script boundary, kept
    ("Ana García", "Ana García"),
])
def test_undo_cjk_spaces(text, expected):
    assert undo_cjk_spaces(text) == expected


def test_tidy_ocr_text_and_nfc():
    # Tesseract wraps Arabic words in LRM/RLM marks; two readings of one name must match.
    assert tidy_ocr_text("\u200fمحمد  علي\u200e") == "محمد علي"
    assert tidy_ocr_text("Jose\u0301\u200b  Mun\u0303oz ") == "José Muñoz"
    assert tidy_ocr_text("강 미 숙\u00a0(TA)") == "강미숙 (TA)"
    assert tidy_ocr_text("\u0645\u06cc\u200c\u0631") == "\u0645\u06cc\u200c\u0631"  # ZWNJ kept
    assert nfc("\u1100\u1161\u11a8") == "각" and nfc("e\u0301") == "é"


# ----------------------------------------------------------------------------- Tesseract

_CJK_FONTS = ["/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
              "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
              "/usr/share/fonts/truetype/nanum/NanumGothic.ttf"]


def test_installed_tesseract_languages_matches_the_cli():
    if shutil.which("tesseract") is None:
        pytest.skip("tesseract not installed (apt-get install tesseract-ocr)")
    langs = installed_tesseract_languages()
    assert "eng" in langs and all(lg.strip() == lg and " " not in lg for lg in langs)


def test_installed_tesseract_languages_without_tesseract(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert installed_tesseract_languages() == set()


def test_korean_and_chinese_names_read_as_written():
    """The resolved languages and the clean-up give the roster's spelling back from a
    rendered label, with Tesseract's word boxes joined by spaces as NameReader does."""
    if shutil.which("tesseract") is None:
        pytest.skip("tesseract not installed (apt-get install tesseract-ocr)")
    installed = installed_tesseract_languages()
    if not {"kor", "chi_sim"} <= installed:
        pytest.skip("needs tesseract-ocr-kor and tesseract-ocr-chi-sim (make system-deps)")
    font = next((f for f in _CJK_FONTS if Path(f).is_file()), None)
    if font is None:
        pytest.skip("needs a Hangul+Han font (fonts-wqy-microhei or fonts-noto-cjk)")
    import numpy as np
    import pytesseract
    from PIL import Image, ImageDraw, ImageFont

    roster = ["강미숙", "王小明", "Kim 민준"]
    lang, warns = resolve_ocr_languages("auto", roster, installed)
    assert lang.startswith("kor+chi_sim+") and not warns
    pil_font = ImageFont.truetype(font, 32)
    page = Image.new("L", (400, 90 * len(roster) + 40), 255)
    for i, name in enumerate(roster):
        ImageDraw.Draw(page).text((20, 20 + 90 * i), name, font=pil_font, fill=0)
    data = pytesseract.image_to_data(np.array(page), lang=lang, config="--psm 6",
                                     output_type=pytesseract.Output.DICT)
    lines: dict[tuple, list[str]] = {}
    for text, key in zip(data["text"], zip(data["block_num"], data["par_num"],
                                           data["line_num"])):
        if str(text).strip():
            lines.setdefault(key, []).append(str(text))
    read = [tidy_ocr_text(" ".join(words)) for words in lines.values()]
    assert read == roster


def test_auto_reads_vietnamese_beside_the_latin_script_model():
    from lecturelens.scripts import resolve_ocr_languages

    assert resolve_ocr_languages("auto", None, {"Latin", "eng", "vie"})[0] == "Latin+vie"
    assert resolve_ocr_languages("auto", ["김민준"], {"Latin", "kor", "vie"})[0] == \
        "kor+Latin+vie"
    assert resolve_ocr_languages("auto", None, {"eng", "vie"})[0] == "eng"  # no Latin model
