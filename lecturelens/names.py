"""Stage 3, names: the participant name labels that meeting apps print on each tile, by OCR.

Zoom, Teams and Meet print a participant's name in small light letters (8-20 px) at the
bottom-left of their tile, often after an icon, and large in the tile's centre when the
camera is off; around the tiles the app prints its own text (title bar, buttons, toolbar).

* :class:`NameReader` finds text boxes with PP-OCR's detector (:mod:`lecturelens.ocr`;
  the heuristic :func:`find_labels` when rapidocr-onnxruntime is missing) and reads every
  box with PP-OCR's recogniser and with Tesseract (one process per round, every label at
  four scales in one page), voted: the spelling both agree on, with Tesseract's accents and
  spaces, or the engine that can read the script;
* :func:`normalise_name` keeps the name (``(Host)``, IDs, pronouns, ``...`` and icons go);
  :func:`is_ui_text` knows the apps' own words;
* :func:`attach_labels` gives each label to the face of its tile; :func:`camera_off_names`
  keeps the face-less labels that are camera-off tiles, not chrome or slides;
* :class:`NameStage` decides when to look for labels and when to read them, under a
  budget, and keeps the readings per face track.
"""

from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from lecturelens.config import OCR_ENGINES  # the engines a NameReader can use (--ocr-engine)
from lecturelens.detect import Face
from lecturelens.errors import LectureLensError
from lecturelens.ocr import PARTICLES
from lecturelens.people import DIFFERENT_NAME, CameraOffLog, NameVotes, name_similarity
from lecturelens.scripts import installed_tesseract_languages as tesseract_languages
from lecturelens.scripts import name_scripts, tidy_ocr_text


@dataclass
class Label:
    """A text label found in a frame: box ``x1, y1, x2, y2`` and, once read, its text."""

    box: tuple[int, int, int, int]
    text: str = ""
    conf: float = 0.0  # 0..1, the voted reading's confidence
    key: str = ""  # PP-OCR's reading as a skeleton: what a cached reading is checked by

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]


def find_labels(rgb: np.ndarray, min_height: int = 6, max_height: int = 60) -> list[Label]:
    """Boxes of light text on a dark background (meeting-app name labels).

    Args:
        rgb: the frame, ``H x W x 3`` uint8.
        min_height, max_height: accepted text heights in pixels.

    Returns:
        Labels sorted top-to-bottom, left-to-right (text not read yet).
    """
    import cv2

    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    # Thin light strokes on a darker ground: a white top-hat keeps letters and drops bright
    # areas wider than a stroke (a lit wall, a white shirt, a slide).
    tophat = cv2.morphologyEx(gray, cv2.MORPH_TOPHAT,
                              cv2.getStructuringElement(cv2.MORPH_RECT, (15, 15)))
    # Channel spread (max - min: 0 for greys) with OpenCV: numpy's axis-2 reductions cost
    # 20 ms a 720p frame, and this runs on every sampled frame.
    r, g, b = cv2.split(np.ascontiguousarray(rgb))
    spread = cv2.subtract(cv2.max(cv2.max(r, g), b), cv2.min(cv2.min(r, g), b))
    text = ((tophat >= 50) & (gray >= 215) & (spread <= 40)).astype(np.uint8)
    # Letters of one word touch after a small dilation; words join into lines below.
    words = cv2.dilate(text, cv2.getStructuringElement(cv2.MORPH_RECT, (5, 3)))
    n, _, stats, _ = cv2.connectedComponentsWithStats(words, connectivity=8)
    # Pieces shorter than a letter (the bar of a t, an accent) still join their line.
    boxes = [[x, y, x + w, y + h] for x, y, w, h, _ in stats[1:]
             if 2 <= h <= max_height + 2 and w <= 40 * h]
    lines = _merge_words(boxes)
    H, W = gray.shape
    labels = []
    for x1, y1, x2, y2 in lines:
        h, w = y2 - y1, x2 - x1
        if not (min_height <= h <= max_height + 2) or w < 1.5 * h or w > W / 2:
            continue
        m = max(2, h // 3)
        X1, Y1, X2, Y2 = max(0, x1 - m), max(0, y1 - m), min(W, x2 + m), min(H, y2 + m)
        ring = text[Y1:Y2, X1:X2] == 0
        ground = gray[Y1:Y2, X1:X2][ring]
        fill = text[y1:y2, x1:x2].mean()
        # Name labels are light strokes on a dark, neutral ground (a black box, a grey
        # tile); a slide's title bar or a poster is coloured.
        if (ground.size == 0 or (ground < 100).mean() < 0.8 or not 0.06 <= fill <= 0.6
                or np.median(spread[Y1:Y2, X1:X2][ring]) > 45):
            continue
        labels.append(Label((int(X1), int(Y1), int(X2), int(Y2))))
    labels.sort(key=lambda lb: (lb.box[1] // 8, lb.box[0]))
    return labels


def _merge_words(boxes: list[list[int]]) -> list[list[int]]:
    """Join word boxes of one line: similar heights, side by side, < a height apart."""

    def joinable(a, b):
        h = max(a[3] - a[1], b[3] - b[1])
        lo = min(a[3] - a[1], b[3] - b[1])
        overlap = min(a[3], b[3]) - max(a[1], b[1])
        gap = max(a[0], b[0]) - min(a[2], b[2])
        # Similar heights keep a bright detail of the video next to a label out of its
        # line; a lower-case letter is half a capital, an accent or a t's bar less.
        return overlap >= 0.6 * lo and h <= 4 * lo and gap <= 1.1 * h

    merged = [list(b) for b in sorted(boxes)]
    changed = True
    while changed:
        changed = False
        out: list[list[int]] = []
        for b in merged:
            for m in out:
                if joinable(m, b):
                    m[:] = [min(m[0], b[0]), min(m[1], b[1]), max(m[2], b[2]), max(m[3], b[3])]
                    changed = True
                    break
            else:
                out.append(b)
        merged = out
    return merged


_BRACKETED = re.compile(r"[(\[{][^()\[\]{}]*[)\]}]")
_ELLIPSIS = re.compile(r"(\.\.\.+|\u2026)\s*$")


def normalise_name(text: str) -> str:
    """The name in a label as read: NFC, single spaces, decorations and OCR debris removed.

    What people type around their name in a meeting app is not their name: ``(Host)``,
    ``(Beginner)``, pronouns ``(she/her)``, student IDs (``20200759 Lee``,
    ``Kim(20200756)``) and Zoom's ``...`` truncation are removed, as are letterless tokens
    (icons read as ``|``, ``!``) and a lone lower-case letter at either end (the mic icon or
    the label box's edge read as a letter). Tesseract's spaces between Hangul or Han
    syllables are undone (Korean and Chinese names are printed without them).

    A word that starts with a lower-case ``l`` followed by lower-case letters is read as
    ``I`` (``lvanov`` -> ``Ivanov``): in the sans-serif fonts of meeting apps the two glyphs
    are the same, and names are capitalised.
    """
    text = tidy_ocr_text(text).translate(_BRACES).translate(_JAMO)
    text = _ELLIPSIS.sub("", text.strip())
    text = _BRACKETED.sub(" ", text)
    words = []
    for w in text.split():
        w = w.strip(".,;:|_'\"`~!*()[]{}<>/\\\u201c\u201d\u201e\u2018\u2019\u201a\u00ab\u00bb\u2026-")
        # Pronouns survive a lost bracket ("she/her)", "e/her"): no name has a slash.
        if not any(ch.isalpha() for ch in w) or "/" in w:
            continue
        # An ID glued to a name (``Lee20200759``) keeps the name.
        if sum(ch.isdigit() for ch in w) >= 4:
            w = "".join(ch for ch in w if not ch.isdigit()).strip("-_.")
            if not w:
                continue
        if len(w) >= 3 and w[0] == "l" and w[1:].isalpha() and w[1:].islower() and (
                words or w[1] not in "aeiouy"):
            w = "I" + w[1:]
        # A name read with a small i first had a dot over its capital: İbrahim (Turkish),
        # read as ibrahim by both engines.
        if len(w) >= 3 and w[0] == "i" and w[1:].isalpha() and w[1:].islower() and \
                w not in PARTICLES:
            w = "\u0130" + w[1:]
        words.append(w)
    # A lone lower-case letter before or after a name is an icon or the label box's edge.
    while len(words) > 1 and len(words[-1]) == 1 and words[-1].islower():
        words.pop()
    while len(words) > 1 and len(words[0]) == 1 and words[0].islower():
        words.pop(0)
    # An icon read as a letter of another script: one Han character before a Latin name
    # (品 Declan Clarke), one before a Korean name (二 김유나), a little Latin before a
    # Korean one (vs 송민준). Names are one script; the debris at their ends is not.
    main = _main_script(words)
    if main is not None:
        def debris(w: str) -> bool:
            script = _word_script(w)
            return script != main and (len(w) == 1 or (
                script == "latin" and len(w) <= 2 and w.islower()))

        while len(words) > 1 and debris(words[0]):
            words.pop(0)
        while len(words) > 1 and debris(words[-1]):
            words.pop()
    return tidy_ocr_text(" ".join(words))


def _word_script(word: str) -> str | None:
    """The script of every letter of ``word``, or None for a mix (or no letters)."""
    scripts = {s for ch in word if ch.isalpha() for s in name_scripts(ch)}
    return scripts.pop() if len(scripts) == 1 else None


def _main_script(words: Sequence[str]) -> str | None:
    """The script most of a name's letters are in, when they are enough to tell (three
    Latin letters, two syllables of Hangul or Han)."""
    count: dict[str, int] = {}
    for w in words:
        script = _word_script(w)
        if script is not None:
            count[script] = count.get(script, 0) + sum(ch.isalpha() for ch in w)
    if not count:
        return None
    script = max(count, key=count.get)
    return script if count[script] >= (3 if script == "latin" else 2) else None


_BRACES = str.maketrans({"{": "(", "}": ")", "[": "(", "]": ")", "\uff08": "(", "\uff09": ")",
                         "\uff3b": "(", "\uff3d": ")"})
#: Hangul compatibility jamo (ㄱ, ㆍ): names are written in syllables, so a lone jamo is an
#: icon or a dot read as one.
_JAMO = dict.fromkeys(range(0x3130, 0x3190))


#: Text of meeting-app chrome (title bar, buttons, toolbar, menus), never a student's name;
#: compared case- and accent-folded, without digits ("Participants 89").
UI_WORDS = frozenset(w.casefold() for w in (
    "Zoom", "Zoom Meeting", "Zoom Webinar", "Recording", "Recording...", "Speaker View",
    "Gallery View", "View", "Mute", "Unmute", "Start Video", "Stop Video", "Security",
    "Participants", "Chat", "Share Screen", "New Share", "Pause Share", "Record",
    "Reactions", "Apps", "Whiteboards", "More", "Leave", "End", "Raise Hand", "Captions",
    "Breakout Rooms", "Polls", "Notes", "Summary", "Leave Meeting", "End Meeting",
    "Microsoft Teams", "Teams", "People", "Raise", "React", "Camera", "Mic", "Share",
    "Google Meet", "Meet", "Present now", "Turn on captions", "Meeting details",
    "You are viewing", "Talking", "Exit Full Screen", "Enter Full Screen", "Minimize",
    "Hide Self View", "Show Self View", "Host", "Co-host", "Me", "You",
    "음소거", "음소거 해제", "비디오 시작", "비디오 중지", "보안", "참가자", "채팅", "화면 공유",
    "기록", "반응", "나가기", "종료", "발표자 보기", "갤러리 보기", "보기", "녹화 중",
    "Zoom 회의", "회의", "View Options", "Options", "Leave call", "More options",
    "Activities", "Chat with everyone", "Show captions", "Presenting", "You are presenting",
    "Stop Share", "Stop presenting", "Pause Recording", "Stop Recording", "Live", "Everyone",
    "Rooms", "Meeting chat", "Present", "Hand", "Show everyone"))


def is_ui_text(text: str) -> bool:
    """Whether ``text`` is a meeting app's own label (a button, the title bar), also when
    misread by a letter or two (``Soeaker vew``, ``Reactons``)."""
    from rapidfuzz import fuzz, process

    core = " ".join("".join(ch for ch in text if not ch.isdigit()).split()).strip(" .:|")
    core = core.casefold()
    if core in UI_WORDS:
        return True
    if len(core) < 5:
        return False
    hit = process.extractOne(core, UI_WORDS, scorer=fuzz.ratio, score_cutoff=85)
    return hit is not None


#: Labels read with a lower confidence are dropped (noise read as text).
MIN_CONF = 0.6


def plausible_name(text: str, conf: float = 1.0) -> bool:
    """Mostly letters, at least two, read confidently, not the app's own text: rejects OCR of
    noise, icons and buttons."""
    letters = sum(ch.isalpha() for ch in text)
    return (letters >= 2 and letters >= 0.6 * len(text.replace(" ", "")) and conf >= MIN_CONF
            and not is_ui_text(text))


#: Heights (px) Tesseract reads every label at, all in one page: an accent read at one
#: scale is often a wrong or plain letter at another (García -> Garcfa, Garcia), and which
#: scale fails varies. Measured on 108 accented labels of 10-18 px (tiles and video ground,
#: 640-1280 px frames): one scale (48) 101 exact, these four 104, at 1.26x the time.
READ_HEIGHTS = (36, 44, 52, 60)


class NameReader:
    """Finds and reads name labels: PP-OCR's text detector, then PP-OCR's recogniser and
    Tesseract on every box, voted (see :mod:`lecturelens.ocr`).

    Args:
        lang: Tesseract language(s), e.g. ``Latin``, ``kor+eng``; ``auto``: the Latin-script
            model when installed (Debian ``tesseract-ocr-script-latn``), else ``eng``, plus
            the languages of the roster's scripts.
        engine: ``auto`` (PP-OCR + Tesseract when rapidocr-onnxruntime is installed, else
            Tesseract alone on the labels :func:`find_labels` finds), ``ppocr+tesseract`` or
            ``tesseract``.
        roster: expected names; with ``lang="auto"`` their scripts choose the languages.
        threads: ONNX Runtime threads for PP-OCR.

    Raises:
        LectureLensError: an engine or a language is missing (with the fix).
    """

    def __init__(self, lang: str = "auto", engine: str = "auto",
                 roster: Sequence[str] | None = None, threads: int = 1):
        from lecturelens.ocr import PPOCR, TesseractPage

        if engine not in OCR_ENGINES:
            raise LectureLensError(f"unknown OCR engine {engine!r}; choose one of "
                                   f"{', '.join(OCR_ENGINES)}")
        self.tess = TesseractPage("eng")  # checks Tesseract before its languages
        self.version = self.tess.version
        from lecturelens.scripts import resolve_ocr_languages

        installed = tesseract_languages()  # one `tesseract --list-langs` for both uses
        self.lang, self.warnings = resolve_ocr_languages(lang, roster, installed)
        self.tess.lang = self.lang
        # Labels PP-OCR could not read as Latin (no text, or only Han characters, which is
        # how it reads Hangul: 윤도윤 -> 是乒是) are read again with each non-Latin language
        # alone, one page each: in a multi-language page Tesseract picks the language word
        # by word and reads small Hangul as Latin (황서연 -> BAA under kor+eng). Under auto
        # these are every installed non-Latin language, so a class with Korean or Arabic
        # names and no roster still gets them; else the non-Latin ones asked for.
        from lecturelens.scripts import SCRIPT_LANGS, lang_script, tesseract_langs_for

        main = self.lang.split("+")
        alone = [lg for lg in main if lang_script(lg) not in (None, "latin")] \
            if len(main) > 1 else []
        if lang == "auto":
            alone += [lg for lg in tesseract_langs_for(set(SCRIPT_LANGS) - {"latin"},
                                                       installed) if lg not in main]
        self.any_script = [TesseractPage(lg) for lg in alone] or None
        self.pp = None
        if engine == "ppocr+tesseract":
            self.pp = PPOCR(threads)
        elif engine == "auto":
            try:
                self.pp = PPOCR(threads)
            except LectureLensError as exc:
                self.warnings.append(f"{exc}; reading names with Tesseract alone")
        self.engine = "ppocr+tesseract" if self.pp is not None else "tesseract"
        self.det_passes = 0
        self.labels_read = 0
        self.read_heights = READ_HEIGHTS

    def keys(self, rgb: np.ndarray, labels: Sequence[Label]) -> list[str] | None:
        """PP-OCR's readings of ``labels`` as skeletons (about 20 ms a label), to check
        that a cached reading is still the label's; None without PP-OCR."""
        if self.pp is None:
            return None
        return [_key((normalise_name(t), c)) for t, c in
                self.pp.recognise(rgb, [lb.box for lb in labels])] if labels else []

    def _other_scripts(self, rgb, padded, main_conf, pp, voted) -> None:
        """Read again, with each non-Latin language alone, the labels PP-OCR could not read
        as Latin; take the best-backed reading in another script where it is confident.

        A Cyrillic name reads as Latin look-alikes in both engines (Артём -> ApTeM), so it
        is tried only where the case shows it (:func:`_not_latin`): trying Cyrillic on
        every unsure Latin label turned Hiro Tanaka into Нио ТапаКа.
        """
        from lecturelens.scripts import lang_script

        pp_names = [normalise_name(p[0]) if p is not None else None for p in pp]
        doubt = {k: _not_latin(n) for k, n in enumerate(pp_names) if n is not None}
        doubt = {k: why for k, why in doubt.items() if why}
        if not doubt:
            return
        heights = self.read_heights
        best: dict[int, tuple[str, float, str]] = {}
        for page in self.any_script:
            script = lang_script(page.lang)
            # Each page only for the labels whose doubt it can settle (one process each).
            mine = [k for k, why in doubt.items() if script in _DOUBT_SCRIPTS.get(why, (script,))]
            if not mine:
                continue
            raw = page.read(rgb, [padded[k] for k in mine for _ in heights],
                            heights=[h for _ in mine for h in heights])
            for n, k in enumerate(mine):
                rs = [(normalise_name(t), c) for t, c in raw[n * len(heights):
                                                             (n + 1) * len(heights)]]
                backing: dict[str, list[float]] = {}
                for t, c in rs:
                    if t:
                        backing.setdefault(t, []).append(c)
                if not backing:
                    continue
                t = max(backing, key=lambda x: sum(backing[x]))
                c = float(np.mean(backing[t]))
                letters = [ch for ch in t if ch.isalpha()]
                own = sum(_char_script(ch) == script for ch in letters)
                # Two scales agreeing, or one very sure: small Hangul varies by a stroke
                # from scale to scale (장하윤, 잠하윤, 장학윤).
                if len(letters) >= 2 and own >= 0.6 * len(letters) and (
                        len(backing[t]) >= 2 or c >= 0.8) and \
                        c > best.get(k, ("", 0.0, ""))[1]:
                    best[k] = (t, c, script)
        for k, (t, c, script) in best.items():
            if c < 0.5 or (not pp_names[k] and c < main_conf[k] - 0.1):
                continue
            if _has_latin(pp_names[k]) and (c < 0.6 or c < main_conf[k] - 0.05):
                continue  # Latin look-alikes of Cyrillic: the other script must be surer
            if script == "han" and pp_names[k]:
                continue  # Chinese after all: PP-OCR's reading of it is the better one
            voted[k] = (t, c, "tesseract")

    @property
    def calls(self) -> int:
        """Tesseract processes started (one per reading round, two when some label needed
        the other scripts)."""
        return self.tess.calls + sum(p.calls for p in self.any_script or ())

    def find(self, rgb: np.ndarray) -> list[Label]:
        """The text boxes of a frame (not read yet)."""
        self.det_passes += 1
        if self.pp is None:
            return find_labels(rgb)
        return [Label(b) for b in self.pp.detect(rgb)]

    def read(self, rgb: np.ndarray, labels: Sequence[Label],
             others: Sequence[bool] | None = None) -> list[Label]:
        """Fill in ``text`` and ``conf`` of every label (in place); return the labels.

        ``others[k]`` says whether label ``k`` may be read again in other scripts when
        PP-OCR could not read it as Latin (default: every label). Each other script costs a
        Tesseract process, so the name stage asks it only for labels under a face or in a
        camera-off tile, not for the app's icons and clock.
        """
        from lecturelens.ocr import pad_box, vote

        if not labels:
            return list(labels)
        boxes = [lb.box for lb in labels]
        padded = [pad_box(b, rgb.shape, 0.3, 0.3) for b in boxes]
        first = self.read_heights
        raw = self.tess.read(rgb, [b for b in padded for _ in first],
                             heights=[h for _ in padded for h in first])
        tess_all = [[(normalise_name(t), c) for t, c in raw[len(first) * k:len(first) * (k + 1)]]
                    for k in range(len(padded))]
        tess = [max(rs, key=lambda r: r[1]) for rs in tess_all]
        pp = [None] * len(boxes)
        if self.pp is not None:
            pp = [(normalise_name(t), c) for t, c in self.pp.recognise(rgb, boxes)]
        voted = [vote(p, t) for p, t in zip(pp, tess)]
        for k, rs in enumerate(tess_all):
            # The scales that agree with PP-OCR letter for letter vote on the spelling.
            if pp[k] is not None and pp[k][0]:
                rs = [(t, c) for t, c in rs if _consistent(pp[k][0], t)]
                if rs:
                    voted[k] = (_accent_vote(rs), max(pp[k][1], max(c for _, c in rs)),
                                "both")
        if self.any_script is not None:
            # The main languages' mean confidence over the scales: one scale's best can be
            # a confident misreading of a script they do not have.
            mean_conf = [float(np.mean([c for _, c in rs])) if rs else 0.0
                         for rs in tess_all]
            allowed = [p if others is None or others[k] else None for k, p in enumerate(pp)]
            self._other_scripts(rgb, padded, mean_conf, allowed, voted)
        for lb, (text, conf, _), p in zip(labels, voted, pp):
            lb.text, lb.conf = normalise_name(text), conf
            lb.key = _key(p)
        self.labels_read += len(labels)
        return list(labels)


def _key(pp: tuple[str, float] | None) -> str:
    from lecturelens.ocr import skeleton

    return skeleton(pp[0]) if pp is not None and pp[1] >= 0.5 else ""


#: Capitals run into small letters inside a word (``BonKOBa``, ``CONOBbËB``, ``HOn``), or two
#: capitals inside one (``ApTeM``, ``ConoBbeB``): how both engines read Cyrillic (Артём
#: Соловьёв) with Latin look-alikes. Latin names do not (``McAllister`` and PP-OCR's
#: ``TomaszWojcik`` have one capital inside a word at most).
_LOOKALIKE_CASE = re.compile(r"[A-ZÀ-Þ]{2,}[a-zß-ÿ]|[a-zß-ÿ][A-ZÀ-Þ]{2,}")


def _not_latin(name: str) -> str:
    """Why PP-OCR's reading of a label says it may not be in Latin letters: ``"han"`` (only
    Han characters: how it reads Hangul), ``"few"`` (no or under three letters: Arabic read
    as ``sx``), ``"cyrillic"`` (the mixed case of Cyrillic read as Latin look-alikes);
    ``""`` for a Latin reading."""
    letters = sum(ch.isalpha() for ch in name)
    if letters and not _has_latin(name) and all(
            _char_script(ch) == "han" for ch in name if ch.isalpha()):
        return "han"
    if not _has_latin(name) or letters < 3:
        return "few"
    if _LOOKALIKE_CASE.search(name) or any(
            sum(ch.isupper() for ch in w[1:]) >= 2 and any(ch.islower() for ch in w)
            for w in name.split()):
        return "cyrillic"
    return ""


#: The scripts worth a page for each kind of doubt (others: every script).
_DOUBT_SCRIPTS = {"han": ("hangul", "han", "kana"), "cyrillic": ("cyrillic", "greek")}


def _has_latin(text: str) -> bool:
    """Some letter of ``text`` is a Latin one."""
    return any(ch.isalpha() and "LATIN" in unicodedata.name(ch, "") for ch in text)


def _char_script(ch: str) -> str:
    from lecturelens.scripts import name_scripts

    return next(iter(name_scripts(ch)), "other")


def _accent_vote(readings: Sequence[tuple[str, float]]) -> str:
    """The spelling most readings back (summed confidence); a spelling with more accents
    wins over its plain twin or look-alike when it has :data:`~lecturelens.people.
    ACCENT_SHARE` of its backing: Tesseract drops an accent (Martinez) or reads a plain
    look-alike (Michat for Michał) at most of its scales far more often than it invents an
    accent (no plain name of 93 got one this way)."""
    from lecturelens.people import ACCENT_SHARE, accents

    backing: dict[str, float] = {}
    for t, c in readings:
        backing[t] = backing.get(t, 0.0) + c
    best = max(backing, key=backing.get)
    twins = [t for t in backing if _lookalike(t) == _lookalike(best)
             and accents(t) > accents(best) and backing[t] >= ACCENT_SHARE * backing[best]]
    return max(twins, key=lambda t: (backing[t], accents(t))) if twins else best


def _consistent(pp_text: str, tess_text: str) -> bool:
    """Tesseract's reading agrees with PP-OCR's letter for letter (accents aside)."""
    from lecturelens.ocr import merge_letters, respace

    return bool(tess_text) and _lookalike(tess_text) == _lookalike(pp_text) and \
        merge_letters(respace(pp_text), tess_text) == tess_text


#: Plain letters both engines read for an accented one at label sizes: í as f (Lucía ->
#: Lucfa), ł as t (Michał -> Michat), ı and İ as i, Þ as P. Tesseract gets the accented
#: letter at some of its scales; comparing in this fold lets those scales vote.
_LOOKALIKE = str.maketrans({"f": "i", "t": "l", "ł": "l", "Ł": "L", "ı": "i", "İ": "I",
                            "þ": "p", "Þ": "P"})


def _lookalike(text: str) -> str:
    """:func:`lecturelens.ocr.skeleton` with the accent look-alikes above folded together."""
    from lecturelens.ocr import skeleton

    return skeleton(text.translate(_LOOKALIKE))


def attach_labels(labels: Sequence[Label], faces: Sequence[Face]
                  ) -> tuple[dict[int, Label], list[Label]]:
    """Give each label to the face of its tile.

    Meeting apps put the label at the tile's bottom-left, so the labels outline the grid:
    a label's tile spans from its left end to the next label of its row, and from the
    labels of the row above down to it. A face whose centre lies in that span, and not
    more than a few face sizes from the label, is a candidate; nearest pairs are matched
    first, each face and label used once.

    Returns:
        ``(face index -> label, labels with no face)``; the latter are camera-off tiles (or
        big camera-off names in a tile's centre), or text outside the tiles.
    """
    pairs = []
    for li, lb in enumerate(labels):
        lx1, ly1, _, ly2 = lb.box
        right = min([o.box[0] for o in labels if o is not lb and o.box[0] > lx1
                     and min(o.box[3], ly2) - max(o.box[1], ly1) > 0], default=float("inf"))
        top = max([o.box[3] for o in labels if o.box[3] <= ly1
                   and lx1 - lb.height <= o.box[0] < right], default=0)
        for fi, f in enumerate(faces):
            x1, y1, x2, y2 = (float(v) for v in f.box)
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
            fw, fh = x2 - x1, y2 - y1
            # A tile is at most a few faces wide and tall: text farther away (a toolbar
            # below a tile whose own label was missed) is not this face's label.
            if (lx1 <= cx < right and top <= cy <= ly1 and ly1 - y2 <= 4 * fh
                    and cx - lx1 <= 5 * fw):
                pairs.append((float(np.hypot(cx - lx1, cy - ly2)), li, fi))
    pairs.sort()
    by_face: dict[int, Label] = {}
    used: set[int] = set()
    for _, li, fi in pairs:
        if li in used or fi in by_face:
            continue
        used.add(li)
        by_face[fi] = labels[li]
    return by_face, [lb for li, lb in enumerate(labels) if li not in used]


def in_gallery(orphans: Sequence[Label], attached: Sequence[Label], height: int
               ) -> list[Label]:
    """The face-less labels between the rows of labelled tiles: not the title bar above
    the first row or the toolbar below the last (where tiles are, a camera-off name may
    be)."""
    if attached:
        top = min(lb.box[1] for lb in attached) - 0.6 * height
        bottom = max(lb.box[3] for lb in attached) + 2
    else:
        top, bottom = 0.06 * height, 0.92 * height
    return [lb for lb in orphans if lb.box[1] >= max(top, 0.06 * height)
            and lb.box[3] <= min(bottom + 0.02 * height, 0.92 * height)]


def camera_off_names(orphans: Sequence[Label], attached: Sequence[Label], rgb: np.ndarray
                     ) -> list[Label]:
    """The face-less labels that are names of camera-off tiles, not the app's chrome.

    A camera-off tile shows its name in light letters on a dark, still ground (Zoom: large in
    the centre; Teams/Meet: under an initials circle). Text in the title bar or the toolbar
    (above the first or below the last row of labelled tiles), dark text on a light slide,
    and one- or two-letter initials are not names.
    """
    import cv2

    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    out = []
    for lb in in_gallery(orphans, attached, rgb.shape[0]):
        x1, y1, x2, y2 = lb.box
        # Initials in a circle (Teams, Meet) are one or two Latin letters; a Korean or
        # Chinese name can be two syllables.
        syllabic = bool(name_scripts(lb.text) & {"hangul", "han", "kana"})
        if sum(ch.isalpha() for ch in lb.text) < (2 if syllabic else 3):
            continue
        crop = gray[y1:y2, x1:x2]
        ring = np.concatenate([crop[0], crop[-1], crop[:, 0], crop[:, -1]])
        # light letters on a dark ground
        if crop.size == 0 or np.median(ring) > 90 or crop.max() < np.median(ring) + 60:
            continue
        out.append(lb)
    return out


#: Rounds for a changed picture (first frame, new layout, new faces) may use this many
#: times the OCR budget; retries and routine re-reads only the budget itself.
ESSENTIAL_BUDGET = 3.0
#: Seconds of video between two layout-change rounds that run over the budget.
LAYOUT_SPACING = 8.0


class NameStage:
    """Decides when to look for and read labels, reads them, and keeps the readings per track.

    Reading has a budget, so that an unreadable label never dominates a run:

    * **finding** text boxes (PP-OCR's detector, 0.3-1 s a frame) happens on the first frame,
      when the known label boxes' contents change (a reshuffle, someone joining), when a new
      face track starts, and every ``interval`` seconds;
    * **reading** the boxes happens with each finding, and again while some visible track
      has fewer than ``min_reads`` readings. A track whose label cannot be read is retried
      with exponential backoff (``min_spacing`` x 2^attempt), at most ``max_attempts``
      times until its layout changes;
    * no retry or routine re-read starts while OCR has used more than ``budget`` of the
      wall time since the stage started; rounds for a changed picture (a new layout, new
      faces) may use :data:`ESSENTIAL_BUDGET` times as much; the first round and one
      layout-change round per :data:`LAYOUT_SPACING` seconds of video always run;
    * a box showing the same letters as a box read before (in any tile: labels move with
      their people) keeps that reading, without OCR.

    Args:
        reader: the OCR engines (:class:`NameReader`).
        interval: seconds between routine re-reads of an unchanged layout.
        min_reads: readings wanted per track before only routine re-reads are done.
        min_spacing: seconds between rounds at least (labels flicker; OCR costs).
        max_attempts: unread rounds per track before it is left alone.
        budget: largest share of the wall time OCR may take.
    """

    def __init__(self, reader, interval: float = 120.0, min_reads: int = 3,
                 min_spacing: float = 2.0, max_attempts: int = 6, budget: float = 0.08):
        self.reader = reader
        self.interval = interval
        self.min_reads = min_reads
        self.min_spacing = min_spacing
        self.max_attempts = max_attempts
        self.budget = budget
        self.votes: dict[int, NameVotes] = {}
        self.camera_off = CameraOffLog()
        self.rounds = 0
        self.finds = 0
        self.seconds = 0.0
        self.skipped_for_budget = 0
        self._attempts: dict[int, int] = {}
        self._next_try: dict[int, float] = {}
        self._labels: list[Label] | None = None
        self._masks: dict[tuple[int, int, int, int], np.ndarray] = {}
        self._ui: set[tuple[int, int, int, int]] = set()
        self._cache: list[tuple[np.ndarray, str, float, str]] = []
        # The cache entry last seen in each box: a label that has not moved.
        self._boxes: dict[tuple[int, int, int, int], tuple] = {}
        self._prev_ids: set[int] = set()
        self._lost = False
        self.cache_hits = 0
        self._last_round: float | None = None
        self._last_find: float | None = None
        self._last_layout: float | None = None
        self._started = time.perf_counter()

    # ------------------------------------------------------------------ schedule
    def _over_budget(self, factor: float = 1.0) -> bool:
        wall = time.perf_counter() - self._started
        # The first seconds of a run are mostly model loading and the first round itself.
        return self.seconds > factor * self.budget * max(wall, 30.0)

    def _needy(self, t: float, track_ids: Sequence[int]) -> bool:
        """Some visible track wants a reading and its backoff has passed."""
        return any(self._wants(t, tid) for tid in track_ids)

    def _wants(self, t: float, tid: int) -> bool:
        return ((self.votes[tid].n if tid in self.votes else 0) < self.min_reads
                and self._attempts.get(tid, 0) < self.max_attempts
                and self._next_try.get(tid, 0.0) <= t)

    def _read_cached(self, rgb: np.ndarray, labels: list[Label],
                     namey: set[int] | None = None) -> None:
        """Read ``labels``; a box showing the same letters as a box read before, here or in
        another tile, keeps that reading without OCR. A gallery's labels stay the same
        while they move between tiles (reshuffles, people joining), and the same pixels
        read the same."""
        todo, hits = [], []
        for lb in labels:
            mask = _text_mask(rgb, lb.box)
            hit = self._boxes.get(lb.box)
            if hit is None or not _same_letters(mask, hit[0]):
                hit = next((c for c in self._cache if _same_letters(mask, c[0])), None)
            (hits if hit is not None else todo).append((lb, mask, hit))
        # Look-alike names (Minjun, Minjin) can share a mask: PP-OCR's quick reading must
        # agree with the cached one's, else the label is read in full. A box that has not
        # moved and shows the same letters is the same label (a routine re-read, a camera
        # turned on elsewhere): no check.
        moved = [(lb, mask, hit) for lb, mask, hit in hits if hit is not self._boxes.get(lb.box)]
        keys = getattr(self.reader, "keys", lambda rgb, labels: None)(
            rgb, [lb for lb, _, _ in moved])
        checked = {id(lb): k for (lb, _, _), k in zip(moved, keys or ())}
        for lb, mask, hit in hits:
            key = checked.get(id(lb), hit[3])
            if keys is None or (key and key == hit[3]):
                lb.text, lb.conf, lb.key = hit[1], hit[2], hit[3]
                self._boxes[lb.box] = hit
                self.cache_hits += 1
            else:
                todo.append((lb, mask, None))
        if todo and keys is not None and self._cache:
            # A label that moved is often found with a box a few pixels larger or smaller
            # (the detector's box follows the video behind a translucent pill), so its
            # mask differs; PP-OCR's reading of it (30 ms) still names a cached reading,
            # and Tesseract's pages (the costly part) are not needed again.
            by_key = {c[3]: c for c in self._cache if len(c[3]) >= 4}
            # The moved hits that failed their check were read by PP-OCR above already.
            unread = [lb for lb, _, _ in todo if id(lb) not in checked]
            checked.update(zip(map(id, unread), self.reader.keys(rgb, unread)))
            rest = []
            for lb, mask, _ in todo:
                key = checked[id(lb)]
                hit = by_key.get(key) if key else None
                if hit is not None:
                    lb.text, lb.conf, lb.key = hit[1], hit[2], hit[3]
                    self._boxes[lb.box] = hit
                    self.cache_hits += 1
                else:
                    rest.append((lb, mask, None))
            todo = rest
        self.reader.read(rgb, [lb for lb, _, _ in todo], others=None if namey is None
                         else [id(lb) in namey for lb, _, _ in todo])
        for lb, mask, _ in todo:
            if mask.any():
                entry = (mask, lb.text, lb.conf, lb.key)
                self._cache.append(entry)
                self._boxes[lb.box] = entry
        if len(self._boxes) > 2000:
            self._boxes.clear()
        del self._cache[:-500]  # a bound for very long, very busy recordings

    def _candidates(self, faces: Sequence[Face]) -> list[Label]:
        """Fresh copies of the known boxes that may be names: not over a face (a bright
        detail of it: teeth, glasses), not the app's own text, not a speck."""
        boxes = [lb for lb in self._labels or [] if lb.box not in self._ui
                 and not _inside_any(lb, faces)]
        if boxes:
            tall = float(np.median([lb.height for lb in boxes]))
            boxes = [lb for lb in boxes if lb.height >= 0.5 * tall]
        return [Label(lb.box) for lb in boxes]

    def _layout_changed(self, rgb: np.ndarray) -> float:
        """The share of the known label boxes that no longer hold the text they held when
        found (0: none, or no boxes known)."""
        if not self._labels or not self._masks:
            return 0.0
        # One box is enough: a camera turned on or off changes one tile's text only. Only
        # boxes that read as names count: text-like texture in a video changes all the time.
        changed = [_text_mask_change(rgb, box, m) > 0.3 for box, m in self._masks.items()]
        return sum(changed) / len(changed)

    def update(self, t: float, rgb: np.ndarray, faces: Sequence[Face],
               track_ids: list[int], new_track: bool = False, tracker=None,
               changed: bool = True) -> bool:
        """Process one sampled frame; return whether its labels were read.

        With ``tracker``, a face whose label confidently contradicts its track's name is
        split off into a new track (``track_ids`` is updated in place): the appearance gate
        misses a reshuffle that puts a look-alike in the same tile, the label does not.
        ``changed=False`` says that nothing changed outside the known faces since the last
        frame (see :class:`~lecturelens.detect.FaceFollower`): then the label boxes are not
        even compared.
        """
        t0 = time.perf_counter()
        try:
            return self._update(t, rgb, faces, track_ids, new_track, tracker, changed)
        finally:
            self.seconds += time.perf_counter() - t0

    def _update(self, t, rgb, faces, track_ids, new_track, tracker, changed) -> bool:
        first = self._last_round is None
        since = float("inf") if first else t - self._last_round
        # A face gone from the picture (a camera turned off, someone left) changes what the
        # labels mean even where their letters stay: look again at the next round.
        self._lost |= bool(self._prev_ids - set(track_ids))
        self._prev_ids = set(track_ids)
        if not first and since < self.min_spacing:
            return False
        moved = self._layout_changed(rgb) if not first and (changed or new_track) else 0.0
        layout = first or self._labels is None or self._lost or moved > 0
        routine = not layout and t - self._last_find >= self.interval
        needy = self._needy(t, track_ids)
        if not (layout or routine or needy):
            return False
        new_tile = False
        if not (layout or routine):
            # A track wanting a reading whose face has no known label box under it: its
            # tile is new (someone joined, a camera came on), so look for labels again.
            # Its backoff (not a reset) paces these looks when no label is ever there.
            by_box, _ = attach_labels(self._candidates(faces), faces)
            new_tile = any(self._wants(t, tid) and fi not in by_box
                           for fi, tid in enumerate(track_ids))
        # Rounds for a changed picture are what names are made of: they may use up to
        # ESSENTIAL_BUDGET times the budget; re-reads and retries only the budget.
        essential = layout or new_track or new_tile
        # A changed layout (a camera on or off) is read whatever the budget once per
        # LAYOUT_SPACING seconds of video. Their number is bounded by the video's length;
        # retries, the unbounded kind, are not.
        # A reshuffle (most labels moved) always is: tracks the appearance gate carried
        # across it would keep the wrong names.
        exempt = layout and (self._last_layout is None or moved >= 0.5
                             or t - self._last_layout >= LAYOUT_SPACING)
        if not exempt and self._over_budget(ESSENTIAL_BUDGET if essential else 1.0):
            self.skipped_for_budget += 1
            return False
        if layout:
            self._last_layout = t
        find = layout or routine or new_tile
        if find:
            self._labels = self.reader.find(rgb)
            self._masks = {}
            self._ui = set()
            self._last_find = t
            self._lost = False
            self.finds += 1
            if layout or routine:
                # A new layout: every track may try again.
                self._attempts.clear()
                self._next_try.clear()
        self._last_round = t
        self.rounds += 1
        labels = self._candidates(faces)
        full = find or since >= self.interval
        attempted = set(track_ids)
        if not full:
            # Only tracks still wanting a reading: read just the boxes of their tiles.
            by_box, _ = attach_labels(labels, faces)
            attempted = {track_ids[fi] for fi in range(len(faces))
                         if self._wants(t, track_ids[fi])}
            want = {id(lb) for fi, lb in by_box.items() if track_ids[fi] in attempted}
            labels = [lb for lb in labels if id(lb) in want]
        # Where names may be, from the boxes alone: under a face, or a face-less box among
        # the tiles. Only these are worth reading in other scripts.
        by_box, loose = attach_labels(labels, faces)
        placed = list(by_box.values())
        namey = {id(lb) for lb in placed + in_gallery(loose, placed, rgb.shape[0])}
        self._read_cached(rgb, labels, namey)
        self._ui |= {lb.box for lb in labels if is_ui_text(lb.text)}
        labels = [lb for lb in labels if plausible_name(lb.text, lb.conf)]
        for lb in labels:
            self._masks.setdefault(lb.box, _text_mask(rgb, lb.box))
        by_face, orphans = attach_labels(labels, faces)
        read_tracks = set()
        for fi, lb in by_face.items():
            votes = self.votes.get(track_ids[fi])
            if tracker is not None and votes is not None and votes.n:
                name, conf = votes.best()
                if conf >= MIN_CONF and name_similarity(name, lb.text) < DIFFERENT_NAME:
                    track_ids[fi] = tracker.split(track_ids[fi], t, faces[fi])
            self.votes.setdefault(track_ids[fi], NameVotes()).add(lb.text, lb.conf)
            read_tracks.add(track_ids[fi])
        for tid in attempted - read_tracks:
            k = self._attempts.get(tid, 0) + 1
            self._attempts[tid] = k
            self._next_try[tid] = t + self.min_spacing * 2 ** k
        if full:
            # Only a round that read every box knows who is camera-off now.
            names = camera_off_names(orphans, list(by_face.values()), rgb)
            self.camera_off.seen(t, [(lb.text, lb.conf) for lb in names])
        return True

    def named(self, track_id: int) -> bool:
        """Whether a label under this track was read as a name (confidently)."""
        votes = self.votes.get(track_id)
        return votes is not None and votes.n > 0 and votes.best()[1] >= MIN_CONF

    def close(self, t_end: float) -> None:
        self.camera_off.close(t_end)

    def stats(self) -> dict:
        """What OCR cost and did, for run.json."""
        return {"seconds": round(self.seconds, 3), "rounds": self.rounds,
                "find_passes": self.finds, "tesseract_calls": self.reader.calls,
                "skipped_for_budget": self.skipped_for_budget,
                "labels_reused_unchanged": self.cache_hits,
                "tracks_unread": sum(1 for tid, k in self._attempts.items()
                                     if k and tid not in self.votes),
                "max_attempts_per_track": max(self._attempts.values(), default=0)}


def _text_mask(rgb: np.ndarray, box) -> np.ndarray:
    """The bright grey pixels of a label box (its letters), for :func:`_text_mask_change`.
    Coloured ones are left out: the apps' mic and speaking icons change colour while the
    name stays, and a changed mask means a new reading."""
    x1, y1, x2, y2 = box
    crop = rgb[y1:y2, x1:x2]
    gray = crop.mean(axis=2)
    spread = crop.max(axis=2).astype(np.int16) - crop.min(axis=2)
    return (gray >= max(120.0, float(gray.mean()) + 40.0)) & (spread <= 90)


def _text_mask_change(rgb: np.ndarray, box, mask: np.ndarray) -> float:
    """Share of the letters' pixels that differ from ``mask`` (1 - IoU)."""
    now = _text_mask(rgb, box)
    union = (now | mask).sum()
    return float(1.0 - (now & mask).sum() / union) if union else 0.0


def _same_letters(a: np.ndarray, b: np.ndarray, min_iou: float = 0.75) -> bool:
    """Two label boxes' letter masks show the same text: equal size within 2 px, and the
    masks, each widened by a pixel (boxes found on two frames differ by a pixel or so),
    overlap by ``min_iou``."""
    import cv2

    if abs(a.shape[0] - b.shape[0]) > 2 or abs(a.shape[1] - b.shape[1]) > 2:
        return False
    h, w = min(a.shape[0], b.shape[0]), min(a.shape[1], b.shape[1])
    k = np.ones((3, 3), np.uint8)
    da = cv2.dilate(a[:h, :w].astype(np.uint8), k) > 0
    db = cv2.dilate(b[:h, :w].astype(np.uint8), k) > 0
    union = (da | db).sum()
    return bool(union) and (da & db).sum() / union >= min_iou


def _inside_any(label: Label, faces: Sequence[Face]) -> bool:
    cx = (label.box[0] + label.box[2]) / 2
    cy = (label.box[1] + label.box[3]) / 2
    return any(f.box[0] <= cx <= f.box[2] and f.box[1] <= cy <= f.box[3] for f in faces)
