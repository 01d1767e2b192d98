"""Writing systems of names, and the Tesseract language data that reads them.

Name labels can be in any script: a class may have García, 강미숙, 王小明, Иван Петров and
محمد علي side by side. Tesseract reads a script only with a model trained on it, each model
it loads costs time, and the *first* language given is the primary one (its page
segmentation wins: with ``Latin+kor`` a Hangul name comes back one syllable per word, with
``kor+Latin`` as written). So:

* :func:`name_scripts` tells which scripts a text's letters are in;
* :func:`tesseract_langs_for` picks the models for those scripts, non-Latin first;
* :func:`resolve_ocr_languages` turns the ``ocr_lang`` option (``auto``, ``none`` or
  ``kor+Latin``-style lists) into the ``-l`` argument of Tesseract, using the roster's
  scripts for ``auto``, with one-line errors that name the Debian package to install;
* :func:`undo_cjk_spaces` and :func:`tidy_ocr_text` undo what Tesseract does to CJK and
  right-to-left text (spaces between syllables, bidi marks).

Pure functions and the standard library only: the CLI, ``doctor`` and config validation
import this module without loading any model.
"""

from __future__ import annotations

import re
import subprocess
import unicodedata
from typing import Iterable, Sequence

from lecturelens.errors import LectureLensError

# ----------------------------------------------------------------------------- scripts

#: Script of a letter, keyed by the first word of its Unicode name (after a FULLWIDTH or
#: HALFWIDTH prefix). Unicode names are stable and say the script, where code-point ranges
#: would need a table of some 40 blocks (Latin alone has ten).
_NAME_PREFIX_SCRIPT = {
    "LATIN": "latin", "HANGUL": "hangul", "CJK": "han", "IDEOGRAPHIC": "han",
    "HIRAGANA": "kana", "KATAKANA": "kana", "KATAKANA-HIRAGANA": "kana",
    "CYRILLIC": "cyrillic", "ARABIC": "arabic", "GREEK": "greek", "HEBREW": "hebrew",
    "DEVANAGARI": "devanagari", "THAI": "thai", "GEORGIAN": "georgian",
    "ARMENIAN": "armenian", "BENGALI": "bengali", "TAMIL": "tamil", "TELUGU": "telugu",
    "KANNADA": "kannada", "MALAYALAM": "malayalam", "GUJARATI": "gujarati",
    "GURMUKHI": "gurmukhi", "ORIYA": "oriya", "SINHALA": "sinhala", "KHMER": "khmer",
    "LAO": "lao", "MYANMAR": "myanmar", "ETHIOPIC": "ethiopic", "TIBETAN": "tibetan",
    "SYRIAC": "syriac", "THAANA": "thaana", "CHEROKEE": "cherokee",
}

#: Tesseract models that read each script, best first: a language model (trained on names
#: and words of that language), then the script model (``script/Hangul`` etc., Debian
#: ``tesseract-ocr-script-*``), then related languages of the same script.
SCRIPT_LANGS: dict[str, tuple[str, ...]] = {
    "hangul": ("kor", "Hangul"),
    "kana": ("jpn", "Japanese"),
    # Simplified first: most Chinese names on Zoom labels are in simplified characters;
    # Traditional-only classes pass --ocr-lang chi_tra+Latin.
    "han": ("chi_sim", "HanS", "chi_tra", "HanT", "jpn", "Japanese"),
    "cyrillic": ("rus", "Cyrillic", "ukr", "bel", "bul", "srp", "mkd"),
    "greek": ("ell", "Greek"),
    "arabic": ("ara", "Arabic", "fas", "urd"),
    "hebrew": ("heb", "Hebrew"),
    "devanagari": ("hin", "Devanagari", "mar", "nep"),
    "thai": ("tha", "Thai"),
    "georgian": ("kat", "Georgian"),
    "armenian": ("hye", "Armenian"),
    "bengali": ("ben", "Bengali"),
    "tamil": ("tam", "Tamil"),
    "telugu": ("tel", "Telugu"),
    "kannada": ("kan", "Kannada"),
    "malayalam": ("mal", "Malayalam"),
    "gujarati": ("guj", "Gujarati"),
    "gurmukhi": ("pan", "Gurmukhi"),
    "oriya": ("ori", "Oriya"),
    "sinhala": ("sin", "Sinhala"),
    "khmer": ("khm", "Khmer"),
    "lao": ("lao", "Lao"),
    "myanmar": ("mya", "Myanmar"),
    "ethiopic": ("amh", "Ethiopic"),
    "tibetan": ("bod", "Tibetan"),
    "syriac": ("syr", "Syriac"),
    "thaana": ("div", "Thaana"),
    "cherokee": ("chr", "Cherokee"),
    # Tesseract's Latin-script model reads accented names (García, Muñoz) that the English
    # one turns into Garcia, Mufioz; English is the fallback every install has.
    "latin": ("Latin", "eng", "vie"),
}

#: Read beside the Latin-script model when installed (Debian ``tesseract-ocr-vie``): it
#: reads the stacked accents of Vietnamese names (Đức, Trần, Nguyễn) that the Latin-script
#: model turns into Dúc, Trán, Nguyên. On 68 labels of 14-20 px with names of many
#: cultures, 59 were read exactly with ``Latin`` and 64 with ``Latin+vie``; on 333 labels
#: of 8-16 px (app skins) 53.8 % and 54.7 % (``bench/labels_eval.py``).
LATIN_PARTNER = "vie"

#: Order of the languages in Tesseract's ``-l``: the order of this dict's scripts (Latin
#: last). CJK first: the primary language's segmentation decides the spaces, and Hangul or
#: Han read under Latin come back one syllable per word.
_SCRIPT_ORDER = {s: i for i, s in enumerate(SCRIPT_LANGS)}

#: Scripts written right to left.
RTL_SCRIPTS = frozenset({"arabic", "hebrew", "syriac", "thaana"})


def name_scripts(text: str) -> set[str]:
    """The scripts of the letters in ``text``.

    Args:
        text: any text (a name). Digits, punctuation, spaces and combining marks are
            ignored: they are shared by scripts or belong to the letter before them.

    Returns:
        Script names such as ``"latin"``, ``"hangul"``, ``"han"``, ``"kana"``,
        ``"cyrillic"``, ``"arabic"``, ``"greek"``, ``"hebrew"``, ``"devanagari"``,
        ``"thai"`` (see :data:`SCRIPT_LANGS` for all); ``"other"`` for letters of a script
        that has no entry there (Mongolian, modifier letters, ...). Empty without letters.
    """
    found = set()
    for ch in text:
        if not ch.isalpha():
            continue
        found.add(_char_script(ch))
    return found


def _char_script(ch: str) -> str:
    words = unicodedata.name(ch, "").split()
    if words and words[0] in ("FULLWIDTH", "HALFWIDTH"):
        words = words[1:]
    return _NAME_PREFIX_SCRIPT.get(words[0], "other") if words else "other"


def is_rtl(text: str) -> bool:
    """Whether most letters of ``text`` are in a right-to-left script (Arabic, Hebrew...).

    Word boxes of such a name read in order of decreasing ``left``, not increasing.
    """
    letters = [_char_script(ch) for ch in text if ch.isalpha()]
    return sum(s in RTL_SCRIPTS for s in letters) * 2 > len(letters) > 0


def tesseract_langs_for(scripts: Iterable[str], installed: set[str] | None = None
                        ) -> list[str]:
    """Tesseract languages that read ``scripts``, in ``-l`` order (CJK first, Latin last).

    Args:
        scripts: script names as :func:`name_scripts` returns them (``"other"`` and unknown
            names are ignored).
        installed: languages Tesseract has data for. Given, each script gets its first
            *installed* model (``latin``: ``Latin``, else ``eng``) and scripts without one
            are left out; ``None``: each script's preferred model.

    Returns:
        Language codes, no duplicates; Han is left to ``jpn`` when kana brought it in
        (Japanese names mix both, and ``jpn`` reads kanji).
    """
    wanted = set(scripts) & SCRIPT_LANGS.keys()
    langs: list[str] = []
    for script in sorted(wanted, key=_SCRIPT_ORDER.__getitem__):
        if script == "han" and "kana" in wanted and _pick("kana", installed) is not None:
            continue
        choice = _pick(script, installed)
        if choice is not None and choice not in langs:
            langs.append(choice)
    return langs


def lang_script(code: str) -> str | None:
    """The script a Tesseract language reads (``kor`` -> ``hangul``, ``script/Latin`` ->
    ``latin``, ``eng`` -> ``latin``); None for one this table does not know."""
    code = code.split("/")[-1]
    for script, langs in SCRIPT_LANGS.items():
        if code in langs:
            return script
    return None


def _pick(script: str, installed: set[str] | None) -> str | None:
    options = SCRIPT_LANGS[script]
    if installed is None:
        return options[0]
    return next((_installed_form(lg, installed) for lg in options
                 if _installed_form(lg, installed)), None)


def _installed_form(code: str, installed: set[str]) -> str | None:
    """``code`` as Tesseract knows it here: some installs list script models as
    ``script/Latin``, which is then also what ``-l`` wants."""
    if code in installed:
        return code
    if f"script/{code}" in installed:
        return f"script/{code}"
    return None


# ----------------------------------------------------------------------------- packages

#: Debian package suffixes of Tesseract's script models (``tesseract-ocr-script-<x>``).
_SCRIPT_PACKAGES = {
    "Arabic": "arab", "Armenian": "armn", "Bengali": "beng", "Canadian_Aboriginal": "cans",
    "Cherokee": "cher", "Cyrillic": "cyrl", "Devanagari": "deva", "Ethiopic": "ethi",
    "Fraktur": "frak", "Georgian": "geor", "Greek": "grek", "Gujarati": "gujr",
    "Gurmukhi": "guru", "HanS": "hans", "HanT": "hant", "Hangul": "hang", "Hebrew": "hebr",
    "Japanese": "jpan", "Kannada": "knda", "Khmer": "khmr", "Lao": "laoo", "Latin": "latn",
    "Malayalam": "mlym", "Myanmar": "mymr", "Oriya": "orya", "Sinhala": "sinh",
    "Syriac": "syrc", "Tamil": "taml", "Telugu": "telu", "Thaana": "thaa", "Thai": "thai",
    "Tibetan": "tibt", "Vietnamese": "viet",
}

#: Tesseract's language models (tessdata 4.x, as packaged by Debian): codes that are real
#: but may not be installed here.
KNOWN_LANGUAGES = frozenset("""
    afr amh ara asm aze aze_cyrl bel ben bod bos bre bul cat ceb ces chi_sim chi_sim_vert
    chi_tra chi_tra_vert chr cos cym dan deu div dzo ell eng enm epo equ est eus fao fas fil
    fin fra frk frm fry gla gle glg grc guj hat heb hin hrv hun hye iku ind isl ita ita_old
    jav jpn jpn_vert kan kat kat_old kaz khm kir kmr kor kor_vert lao lat lav lit ltz mal mar
    mkd mlt mon mri msa mya nep nld nor oci ori osd pan pol por pus que ron rus san sin slk
    slv snd spa spa_old sqi srp srp_latn sun swa swe syr tam tat tel tgk tha tir ton tur uig
    ukr urd uzb uzb_cyrl vie yid yor
    """.split()) | frozenset(_SCRIPT_PACKAGES) | frozenset(
    f"{s}_vert" for s in ("HanS", "HanT", "Hangul", "Japanese"))


def debian_package(lang: str) -> str:
    """The Debian/Ubuntu package with Tesseract's data for ``lang``.

    Args:
        lang: a language code (``kor``, ``chi_sim``) or a script model (``Latin``,
            ``HanS_vert``, ``script/Hangul``).

    Returns:
        E.g. ``tesseract-ocr-kor``, ``tesseract-ocr-chi-sim``,
        ``tesseract-ocr-script-latn``, ``tesseract-ocr-script-hans-vert``.
    """
    name = lang.removeprefix("script/")
    base, vert = (name[:-5], "-vert") if name.endswith("_vert") else (name, "")
    if base in _SCRIPT_PACKAGES:
        return f"tesseract-ocr-script-{_SCRIPT_PACKAGES[base]}{vert}"
    return "tesseract-ocr-" + name.replace("_", "-").lower()


# ----------------------------------------------------------------------------- resolving


def installed_tesseract_languages() -> set[str]:
    """Languages the installed Tesseract has data for (``tesseract --list-langs``).

    Returns:
        The codes as Tesseract lists them (``osd`` included when installed); empty when
        Tesseract is not on ``PATH`` or does not run, so callers decide what that means.
    """
    try:
        out = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True,
                             check=False, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return set()
    lines = out.splitlines()
    # The list follows a 'List of available languages in "...":' line.
    start = next((i + 1 for i, ln in enumerate(lines) if ln.startswith("List of")), 0)
    return {ln.strip() for ln in lines[start:] if ln.strip()}


def _listing(installed: set[str]) -> str:
    # osd is orientation and script detection, not a language anyone can pick.
    shown = sorted(lg for lg in installed if lg != "osd")
    return ", ".join(shown) if shown else "none"


def resolve_ocr_languages(lang: str, roster: Sequence[str] | None, installed: set[str]
                          ) -> tuple[str, list[str]]:
    """The Tesseract ``-l`` argument for the ``ocr_lang`` option.

    Args:
        lang: ``"auto"``, ``"none"``, or ``+``-joined Tesseract codes (``"kor+eng"``,
            ``"Latin+rus"``); any installed language is accepted, custom models included.
            ``"auto"`` takes the scripts of the roster's names (Latin always included,
            e.g. a roster with Korean names gives ``kor+Latin``), or only Latin without a
            roster (``Latin``, else ``eng``).
        roster: expected names, or ``None``.
        installed: what :func:`installed_tesseract_languages` returns.

    Returns:
        ``(langs, warnings)``: ``langs`` is ``"none"`` or the ``-l`` string (non-Latin
        first); ``warnings`` are one-line messages for ``auto`` wanting data that is not
        installed (it then reads with what is installed) or roster letters in scripts
        with no known model.

    Raises:
        LectureLensError: an explicit code that is not a Tesseract language (``unknown OCR
            language 'xx' (installed: ...)``) or is not installed (the message names the
            Debian package), or ``auto`` finding neither Latin nor English data.
    """
    spec = lang.strip()
    if spec.lower() == "none":
        return "none", []
    if spec.lower() == "auto":
        return _auto(roster, installed)
    langs: list[str] = []
    for code in spec.split("+"):
        code = code.strip()
        have = _installed_form(code, installed)
        if code == "osd":
            raise LectureLensError("'osd' is Tesseract's orientation and script detection data, "
                                   f"not a language to read names (installed: "
                                   f"{_listing(installed)})")
        if have is None:
            _raise_missing(code, installed)
        if have not in langs:
            langs.append(have)
    return "+".join(langs), []


def _raise_missing(code: str, installed: set[str]) -> None:
    name = code.removeprefix("script/")
    if re.fullmatch(r"[A-Za-z_]+", name) and name in KNOWN_LANGUAGES:
        raise LectureLensError(f"tesseract has no language data for {code}; apt-get install "
                               f"{debian_package(code)} (installed: {_listing(installed)})")
    # Codes are case-sensitive (Latin, kor): say so when only the case is wrong.
    def folded(code: str) -> str:
        return code.lower().replace("-", "_")

    close = [k for k in sorted(KNOWN_LANGUAGES | installed) if folded(k) == folded(name)]
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise LectureLensError(f"unknown OCR language '{code}' ({hint}installed: "
                           f"{_listing(installed)})")


def _auto(roster: Sequence[str] | None, installed: set[str]) -> tuple[str, list[str]]:
    scripts = {"latin"}
    counts: dict[str, int] = {}
    for name in roster or ():
        for script in name_scripts(name):
            scripts.add(script)
            counts[script] = counts.get(script, 0) + 1
    warnings = []
    if "other" in scripts:
        warnings.append(f"{counts['other']} roster name(s) have letters of a script "
                        "LectureLens has no Tesseract model for; pass --ocr-lang with the "
                        "right language to read them")
    langs = tesseract_langs_for(scripts, installed)
    latin = next((lg for lg in langs if lg in ("Latin", "script/Latin")), None)
    if latin is not None and LATIN_PARTNER in installed:
        langs.insert(langs.index(latin) + 1, LATIN_PARTNER)
    if not any(lg in langs for lg in ("Latin", "script/Latin", "eng")):
        raise LectureLensError("tesseract has no language data for Latin or eng; apt-get "
                               f"install {debian_package('Latin')} (installed: "
                               f"{_listing(installed)})")
    for script in sorted(scripts & SCRIPT_LANGS.keys() - {"latin"}, key=_SCRIPT_ORDER.get):
        if _pick(script, installed) is None and not (
                script == "han" and _pick("kana", installed) and "kana" in scripts):
            want = SCRIPT_LANGS[script][0]
            warnings.append(f"{counts[script]} roster name(s) in {script.title()} script, but "
                            f"tesseract has no {want} data: apt-get install "
                            f"{debian_package(want)}; reading names with {'+'.join(langs)}")
    return "+".join(langs), warnings


# ----------------------------------------------------------------------------- OCR text

_HANGUL = r"\u1100-\u11FF\u3130-\u318F\uA960-\uA97F\uAC00-\uD7A3\uD7B0-\uD7FF"
# Han ideographs (with 々 and 〇) and kana: Japanese names mix both within one word.
_HAN_KANA = (r"\u3005\u3007\u3040-\u309F\u30A0-\u30FF\u31F0-\u31FF\u3400-\u4DBF"
             r"\u4E00-\u9FFF\uF900-\uFAFF\uFF66-\uFF9F\U00020000-\U0003134F")
_CJK_SPACE = re.compile(rf"(?<=[{_HANGUL}])\s+(?=[{_HANGUL}])"
                        rf"|(?<=[{_HAN_KANA}])\s+(?=[{_HAN_KANA}])")
# Bidi controls (LRM, RLM, ALM, embeddings, isolates) that Tesseract puts around
# right-to-left words, and zero-width spaces / stray BOMs. ZWJ and ZWNJ (U+200C/D) stay:
# they change how Persian and Indic names are spelt.
_INVISIBLE = re.compile("[\u200b\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069\ufeff]")


def undo_cjk_spaces(text: str) -> str:
    """Remove the spaces Tesseract puts between Hangul syllables and between Han/kana.

    Tesseract cannot see word boundaries in unspaced CJK text and often returns one
    syllable per word (``강미숙`` -> ``강 미 숙``, ``王小明`` -> ``王 小 明``), and whether it
    does varies between readings of one label. Korean and Chinese names are written
    without internal spaces (family name + given name: ``김민준``, ``李娜``), so **every**
    space between two Hangul syllables, or between two Han/kana characters, goes: the same
    label then always gives the same string. A space between a Hangul or Han run and
    Latin letters, digits or brackets stays (``Kim 민준``, ``강미숙 (TA)``), as does one
    between Hangul and Han. The cost: a label with two Korean words (``초급 강미숙``)
    comes back as one (``초급강미숙``).

    Args:
        text: OCR'd text.

    Returns:
        ``text`` without those spaces.
    """
    return _CJK_SPACE.sub("", text)


def nfc(text: str) -> str:
    """``text`` in Unicode NFC: accents and Hangul syllables composed, as rosters are."""
    return unicodedata.normalize("NFC", text)


def tidy_ocr_text(text: str) -> str:
    """NFC, bidi marks and zero-width spaces removed, CJK spaces undone, single spaces.

    Tesseract wraps Arabic and Hebrew words in LRM/RLM marks (``علي\\u200e``): invisible,
    but they make two readings of one name differ.
    """
    text = _INVISIBLE.sub("", nfc(text))
    return undo_cjk_spaces(" ".join(text.split()))
