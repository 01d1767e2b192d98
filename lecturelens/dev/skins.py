"""Meeting-app skins for the gallery composer: names, labels, camera-off tiles and chrome.

The composer (:mod:`lecturelens.dev.compose`) lays out tiles and plays face videos; this module
decides what the meeting app draws on and around them, so that the name-reading code is
tested on screens that look like Zoom, Teams and Google Meet recordings (see
``docs/meeting-ui.md`` in the shared folder) and cannot be tuned to one fixed look:

* **names** (:func:`random_names`): combinatorial given + family names of many cultures and
  scripts (accented Latin, Hangul, Han, Cyrillic, Arabic), and the label text people really
  type around them (:func:`decorate_label`: student IDs, ``(Host)``, pronouns, ...);
* **look-alike distractors** (:func:`lookalike_names`) for roster tests;
* **skins** (:func:`make_skin`): every look parameter drawn from a seeded random generator
  around the values measured on real screens (text size that does not scale with the tile,
  box grey, gaps, border colours, compression);
* **renderers** that return RGBA overlays (label boxes, muted-mic icons, active-speaker
  borders, rounded corners), whole camera-off tiles, and the UI chrome around the gallery
  (title bar, toolbar, view button, page arrows), each text item with its rectangle so the
  truth can list it as text that is never a student's name.
"""

from __future__ import annotations

import functools
import random
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from lecturelens.fonts import covers

SKINS = ("zoom", "teams", "meet")
SCRIPTS = ("latin", "korean", "chinese", "cyrillic", "arabic")
#: Default script mix of a generated gallery: mostly Latin (the OCR default), with every
#: other script present often enough that a 12-person gallery usually shows two or three.
DEFAULT_SCRIPT_WEIGHTS = {"latin": 0.62, "korean": 0.12, "chinese": 0.1, "cyrillic": 0.09,
                          "arabic": 0.07}
ELLIPSIS = "..."

# ------------------------------------------------------------------------------ names

# Latin-script cultures: given names (with a gender where the family name agrees with it)
# and family names (a pair (male, female) where the language inflects them).
_LATIN = {
    "spanish": (["Alejandro", "María", "José", "Lucía", "Sofía", "Martín", "Íñigo", "Pilar",
                 "Andrés", "Begoña", "Ramón", "Nuria", "Joaquín", "Inés", "Álvaro", "Ximena"],
                ["García", "Martínez", "Rodríguez", "López", "Fernández", "Sánchez", "Pérez",
                 "Gómez", "Muñoz", "Jiménez", "Ibáñez", "Núñez", "Velázquez", "Castaño",
                 "Ortega", "Peña"]),
    "french": (["Amélie", "Benoît", "Céline", "Élodie", "François", "Gaëlle", "Hélène",
                "Jérôme", "Loïc", "Mathéo", "Noémie", "Stéphane", "Thérèse", "Zoé", "Raphaël",
                "Anaïs"],
               ["Lefèvre", "Dubois", "Moreau", "Girard", "Bérubé", "Rousseau", "Mercier",
                "Boucher", "Lemaître", "Faure", "Chevalier", "Gauthier", "Lacroix", "Bélanger",
                "Ménard", "Côté"]),
    "polish": ([("Łukasz", "m"), ("Paweł", "m"), ("Wojciech", "m"), ("Grzegorz", "m"),
                ("Michał", "m"), ("Błażej", "m"), ("Agnieszka", "f"), ("Małgorzata", "f"),
                ("Zofia", "f"), ("Katarzyna", "f"), ("Jadwiga", "f"), ("Żaneta", "f")],
               [("Kowalski", "Kowalska"), ("Wiśniewski", "Wiśniewska"), "Wójcik",
                ("Kamiński", "Kamińska"), ("Lewandowski", "Lewandowska"),
                ("Zieliński", "Zielińska"), ("Szymański", "Szymańska"), "Woźniak",
                ("Dąbrowski", "Dąbrowska"), ("Kozłowski", "Kozłowska"), "Mazur", "Król",
                "Łuczak"]),
    "vietnamese": (["Anh", "Bảo", "Châu", "Dũng", "Hằng", "Hiếu", "Hương", "Khoa", "Linh",
                    "Lộc", "Mai", "Nhung", "Phương", "Quỳnh", "Thảo", "Tuấn", "Trâm", "Yến"],
                   ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ",
                    "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô"]),
    "turkish": (["Ayşe", "Çağla", "Gökhan", "İbrahim", "Şule", "Öykü", "Ümit", "Barış",
                 "Ebru", "Emre", "Gülşen", "Hakan", "Özge", "Ilgın", "Tuğba"],
                ["Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Yıldız", "Öztürk", "Aydın",
                 "Özdemir", "Arslan", "Doğan", "Kılıç", "Çetin", "Koç", "Şimşek"]),
    "nordic": (["Åsa", "Björn", "Øystein", "Sigríður", "Søren", "Mikael", "Ingrid", "Kristín",
                "Jørgen", "Märta", "Torbjörn", "Linnéa", "Eirik", "Hákon", "Þóra", "Ástrós"],
               ["Åkesson", "Sørensen", "Lindqvist", "Nyström", "Bjørnstad", "Jóhannsdóttir",
                "Hägglund", "Løvås", "Ekström", "Engström", "Halvorsen", "Dahl",
                "Sigurðsson", "Østergaard"]),
    "german": (["Jürgen", "Günther", "Jörg", "Käthe", "Lena", "Maximilian", "Sönke",
                "Ursula", "Lukas", "Hannah", "Friederike", "Jonas", "Mareike", "Dörte"],
               ["Müller", "Schröder", "Weiß", "Groß", "Köhler", "Schäfer", "Bäcker", "Fuchs",
                "Hoffmann", "Krüger", "Wöhler", "Fischer", "Neumann", "Schneider",
                "Zimmermann", "Straßburger"]),
    "portuguese": (["João", "Inês", "Gonçalo", "Mariana", "Tiago", "Leonor", "Luísa",
                    "Sebastião", "Tânia", "Vitória", "André", "Conceição"],
                   ["Gonçalves", "Magalhães", "Araújo", "Simões", "Mourão", "Brandão",
                    "Guimarães", "Azevedo", "Rodrigues", "Lourenço", "Fonseca"]),
    "czech": ([("Tomáš", "m"), ("Jiří", "m"), ("Zdeněk", "m"), ("Přemysl", "m"),
               ("Radek", "m"), ("Věra", "f"), ("Lenka", "f"), ("Kateřina", "f"),
               ("Šárka", "f"), ("Markéta", "f")],
              [("Novák", "Nováková"), ("Dvořák", "Dvořáková"), ("Černý", "Černá"),
               ("Procházka", "Procházková"), ("Kučera", "Kučerová"), ("Veselý", "Veselá"),
               ("Růžička", "Růžičková"), ("Horák", "Horáková")]),
    "english": (["James", "Olivia", "Liam", "Emily", "Noah", "Charlotte", "Ethan", "Grace",
                 "Oliver", "Chloe", "William", "Hannah", "Siobhan", "Declan"],
                ["Smith", "Johnson", "O'Brien", "McAllister", "Thompson", "Walker", "Hughes",
                 "Fitzgerald", "Campbell", "Bennett", "Clarke", "Wright", "Nguyen-Hall"]),
    "west_african": (["Chinedu", "Ngozi", "Kwame", "Ama", "Oluwaseun", "Adaeze", "Kofi",
                      "Yaw", "Efua", "Chiamaka", "Babajide"],
                     ["Okafor", "Mensah", "Adeyemi", "Okonkwo", "Boateng", "Asante", "Nwosu",
                      "Owusu", "Adébáyọ̀", "Oyelaran"]),
    # Romanised East Asian names, as Korean and Chinese students type them in English UIs.
    "korean_latin": (["Min-jun", "Seo-yeon", "Ji-ho", "Ha-eun", "Do-yun", "Soo-ah",
                      "Jae-won", "Ye-jin", "Hyun-woo", "Eun-ji", "Min", "Jiwoo", "Seojun",
                      "Yuna"],
                     ["Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon", "Jang",
                      "Lim", "Han", "Shin", "Seo", "Kwon", "Hwang"]),
    "chinese_latin": (["Wei", "Na", "Yang", "Jing", "Fan", "Lei", "Min", "Xiaoling", "Jie",
                       "Ming", "Yuxuan", "Zihan", "Haoran", "Xinyi"],
                      ["Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu",
                       "Zhou", "Xu", "Sun", "Ma", "Zhu"]),
}
# Cultures that write the family name first.
_FAMILY_FIRST = {"vietnamese"}
_EITHER_ORDER = {"korean_latin", "chinese_latin"}

_HANGUL = (["김", "이", "박", "최", "정", "강", "조", "윤", "장", "임", "한", "신", "서", "권",
            "황", "송", "안"],
           ["민준", "서연", "지호", "하은", "도윤", "수아", "재원", "예진", "현우", "은지", "서준",
            "지우", "하윤", "준서", "유나", "민서", "지훈", "수빈"])
_HAN = (["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡",
         "郭", "何", "林"],
        ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛",
         "明", "秀英", "子涵", "浩然", "欣怡", "宇轩", "梓萱", "一诺"])
_CYRILLIC = ([("Иван", "m"), ("Дмитрий", "m"), ("Алексей", "m"), ("Сергей", "m"),
              ("Андрей", "m"), ("Михаил", "m"), ("Николай", "m"), ("Артём", "m"),
              ("Павел", "m"), ("Юрий", "m"), ("Анна", "f"), ("Мария", "f"), ("Елена", "f"),
              ("Ольга", "f"), ("Наталья", "f"), ("Татьяна", "f"), ("Екатерина", "f"),
              ("Юлия", "f"), ("Ксения", "f"), ("Дарья", "f")],
             [("Иванов", "Иванова"), ("Петров", "Петрова"), ("Смирнов", "Смирнова"),
              ("Кузнецов", "Кузнецова"), ("Соколов", "Соколова"), ("Попов", "Попова"),
              ("Лебедев", "Лебедева"), ("Козлов", "Козлова"), ("Новиков", "Новикова"),
              ("Морозов", "Морозова"), ("Волков", "Волкова"), ("Соловьёв", "Соловьёва"),
              ("Зайцев", "Зайцева"), "Шевченко", "Бондаренко", "Коваленко"])
_ARABIC = (["محمد", "أحمد", "علي", "عمر", "يوسف", "خالد", "فاطمة", "عائشة", "مريم", "ليلى",
            "نور", "سارة", "حسن", "زينب", "كريم", "هدى"],
           ["العلي", "الحسن", "الخطيب", "حداد", "منصور", "ناصر", "الشامي", "السيد",
            "عبدالله", "الزهراني", "القحطاني", "الهاشمي", "درويش", "سليمان"])


@dataclass(frozen=True)
class NameInfo:
    """One generated participant name.

    Attributes:
        name: the canonical name (what a roster holds).
        script: ``latin``, ``korean``, ``chinese``, ``cyrillic`` or ``arabic``.
        culture: the name list it came from (e.g. ``polish``, ``korean_latin``).
        given, family: its parts (a family-first name keeps them as such).
    """

    name: str
    script: str
    culture: str
    given: str
    family: str


def _pick_given(rng: random.Random, items) -> tuple[str, str | None]:
    g = rng.choice(items)
    return (g, None) if isinstance(g, str) else g


def _pick_family(rng: random.Random, items, gender: str | None) -> str:
    f = rng.choice(items)
    if isinstance(f, str):
        return f
    return f[1] if gender == "f" else f[0]


def _one_name(script: str, rng: random.Random) -> NameInfo:
    """A random name of ``script`` (Latin: of a random culture)."""
    if script == "latin":
        culture = rng.choice(sorted(_LATIN))
        givens, families = _LATIN[culture]
        given, gender = _pick_given(rng, givens)
        if gender is None and culture in ("polish", "czech"):
            gender = "m"
        family = _pick_family(rng, families, gender)
        if culture == "vietnamese":
            # Vietnamese: family, a middle name, given ("Nguyễn Thị Lan").
            middle = rng.choice(["Văn", "Thị", "Đức", "Minh", "Ngọc", "Thanh", "Hữu", "Quang"])
            return NameInfo(f"{family} {middle} {given}", script, culture, given, family)
        if culture in _FAMILY_FIRST or (culture in _EITHER_ORDER and rng.random() < 0.5):
            return NameInfo(f"{family} {given}", script, culture, given, family)
        return NameInfo(f"{given} {family}", script, culture, given, family)
    if script == "korean":
        family, given = rng.choice(_HANGUL[0]), rng.choice(_HANGUL[1])
        return NameInfo(family + given, script, "korean", given, family)
    if script == "chinese":
        family, given = rng.choice(_HAN[0]), rng.choice(_HAN[1])
        return NameInfo(family + given, script, "chinese", given, family)
    if script == "cyrillic":
        given, gender = _pick_given(rng, _CYRILLIC[0])
        family = _pick_family(rng, _CYRILLIC[1], gender)
        if rng.random() < 0.25:  # "Петров Иван", as Russian lists write it
            return NameInfo(f"{family} {given}", script, "russian", given, family)
        return NameInfo(f"{given} {family}", script, "russian", given, family)
    if script == "arabic":
        given, family = rng.choice(_ARABIC[0]), rng.choice(_ARABIC[1])
        return NameInfo(f"{given} {family}", script, "arabic", given, family)
    raise ValueError(f"unknown script {script!r} (known: {', '.join(SCRIPTS)})")


def random_names(n: int, rng: random.Random | int, scripts: Sequence[str] | None = None,
                 weights: dict[str, float] | None = None) -> list[NameInfo]:
    """``n`` different random names, drawn from the given scripts.

    Scripts with no installed font that draws them are left out (see :func:`script_font`).

    Args:
        n: how many.
        rng: a ``random.Random`` or a seed.
        scripts: scripts to draw from (default: all of :data:`SCRIPTS`).
        weights: relative weight of each script (default :data:`DEFAULT_SCRIPT_WEIGHTS`).

    Raises:
        ValueError: an unknown script, or none of the scripts can be drawn here.
    """
    rng = rng if isinstance(rng, random.Random) else random.Random(rng)
    scripts = list(scripts or SCRIPTS)
    for s in scripts:
        if s not in SCRIPTS:
            raise ValueError(f"unknown script {s!r} (known: {', '.join(SCRIPTS)})")
    usable = [s for s in scripts if script_fonts(s)]
    if not usable:
        raise ValueError(f"no installed font draws any of {', '.join(scripts)}")
    w = weights or DEFAULT_SCRIPT_WEIGHTS
    wts = [w.get(s, 0.05) for s in usable]
    out, seen = [], set()
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > 200 * max(n, 1):
            raise ValueError(f"cannot draw {n} different names from {', '.join(usable)}")
        info = _one_name(rng.choices(usable, wts)[0], rng)
        key = close_key(info.name)
        if key in seen:
            continue
        seen.add(key)
        out.append(info)
    return out


def student_id(rng: random.Random) -> str:
    """A university student number as printed in labels, e.g. ``20200759``."""
    return f"{rng.randint(2017, 2025)}{rng.randint(0, 9999):04d}"


def decorate_label(info: NameInfo | str, rng: random.Random, allow_host: bool = True) -> str:
    """The label text a participant types around their name (often just the name).

    About half the labels carry something: a student ID before or after the name
    (``20200759 Lee Min``, ``Kim(20200756)``, ``Ana_20210042``), ``(Beginner)``, ``[TA]``,
    pronouns, ``(Host)``, a device in brackets.

    Args:
        info: the name (or its :class:`NameInfo`).
        rng: random source.
        allow_host: whether ``(Host)`` may be drawn (a meeting has one host).
    """
    name = info.name if isinstance(info, NameInfo) else info
    r = rng.random()
    if r < 0.5:
        return name
    kinds = ["id_before", "id_paren", "id_space", "id_under", "beginner", "pronouns",
             "device", "ta"] + (["host"] if allow_host else [])
    weights = [3, 2, 1, 1, 1.2, 1.5, 0.6, 0.5] + ([0.8] if allow_host else [])
    kind = rng.choices(kinds, weights)[0]
    sid = student_id(rng)
    if kind == "id_before":
        return f"{sid} {name}"
    if kind == "id_paren":
        return f"{name}({sid})" if rng.random() < 0.6 else f"{name} ({sid})"
    if kind == "id_space":
        return f"{name} {sid}"
    if kind == "id_under":
        return f"{name}_{sid}"
    if kind == "beginner":
        return f"(Beginner) {name}"
    if kind == "pronouns":
        return f"{name} ({rng.choice(['she/her', 'he/him', 'they/them'])})"
    if kind == "device":
        return f"{name} ({rng.choice(['iPhone', 'iPad', 'Galaxy S21'])})"
    if kind == "ta":
        return f"[TA] {name}"
    return f"{name} (Host)"


_BRACKETS = re.compile(r"[(\[{][^()\[\]{}]*[)\]}]")


def close_key(text: str) -> str:
    """``text`` compared loosely: case, spaces, accents, ``(...)`` parts, digits and ``...``
    ignored (also underscores, which join IDs to names).

    Two labels with the same key are the same name as far as a person reading them cares;
    a distractor must differ from every real name by this key.
    """
    t = unicodedata.normalize("NFKC", text or "")
    t = _BRACKETS.sub(" ", t)
    t = t.replace("\u2026", " ").replace("...", " ")
    t = unicodedata.normalize("NFKD", t)
    t = "".join(c for c in t if not unicodedata.combining(c))
    t = t.translate(str.maketrans({"ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d",
                                   "Đ": "D", "ß": "ss", "æ": "ae", "þ": "th", "ð": "d",
                                   "ı": "i"}))
    t = "".join(c for c in t if not (c.isdigit() or c.isspace() or c == "_"))
    return t.casefold()


# Letters a one-letter distractor may swap in, per script (same script, a real-looking name).
_SWAPS = {
    "latin": {"a": "eo", "e": "ai", "i": "ey", "o": "au", "u": "oi", "n": "mr", "m": "n",
              "r": "ln", "l": "r", "s": "z", "t": "d", "d": "t", "k": "c", "c": "k",
              "y": "i", "h": "n", "g": "k", "b": "p", "p": "b", "v": "w", "w": "v"},
    "cyrillic": {"а": "о", "о": "а", "е": "и", "и": "е", "н": "м", "в": "б", "р": "л",
                 "т": "д", "л": "р", "к": "г"},
}


def lookalike_names(names: Sequence[str], n: int = 8, seed: int | random.Random = 0,
                    infos: Sequence[NameInfo] | None = None) -> list[str]:
    """Roster distractors: names close to the real ones but not theirs.

    Each is one of: a real name with one letter changed (``Lena Müller`` -> ``Lena Mülrer``;
    a Hangul or Han syllable swapped for another of the lists), a real family name with
    another given name of the same culture (``Kim Ji-ho`` beside ``Kim Min-jun``), or a
    real given name with another family name. None equals a real name, even loosely
    (:func:`close_key`), and all differ from each other.

    Args:
        names: the real (canonical) names.
        n: how many distractors.
        seed: random seed or generator.
        infos: the names' :class:`NameInfo` (known cultures give family-name distractors).
    """
    rng = seed if isinstance(seed, random.Random) else random.Random(f"lookalike-{seed}")
    taken = {close_key(x) for x in names}
    info_of = {i.name: i for i in infos or ()}
    out: list[str] = []
    tries = 0
    while len(out) < n and names and tries < 500 * max(n, 1):
        tries += 1
        base = rng.choice(list(names))
        info = info_of.get(base) or _guess_info(base)
        kind = rng.random()
        cand = None
        if kind < 0.5:
            cand = _one_letter(base, info.script, rng)
        elif info.script == "korean":
            cand = info.family + rng.choice(_HANGUL[1])
        elif info.script == "chinese":
            cand = info.family + rng.choice(_HAN[1])
        elif info.culture in _LATIN and info.given and info.family:
            givens, families = _LATIN[info.culture]
            if kind < 0.8:  # same family, another given name: the classic roster trap
                other, _ = _pick_given(rng, givens)
                cand = base.replace(info.given, other, 1)
            else:
                cand = base.replace(info.family, _pick_family(rng, families, None), 1)
        else:
            cand = _one_letter(base, info.script, rng)
        if not cand or cand == base:
            continue
        key = close_key(cand)
        if key in taken:
            continue
        taken.add(key)
        out.append(cand)
    return out


def _guess_info(name: str) -> NameInfo:
    """A :class:`NameInfo` for a name this module did not make (script from its letters)."""
    script = "latin"
    for ch in name:
        if "\uac00" <= ch <= "\ud7a3":
            script = "korean"
        elif "\u4e00" <= ch <= "\u9fff":
            script = "chinese"
        elif "\u0400" <= ch <= "\u04ff":
            script = "cyrillic"
        elif "\u0600" <= ch <= "\u06ff":
            script = "arabic"
        else:
            continue
        break
    parts = name.split()
    if script in ("korean", "chinese"):
        return NameInfo(name, script, script, name[1:], name[:1])
    return NameInfo(name, script, "", parts[0] if parts else "", parts[-1] if parts else "")


def _one_letter(name: str, script: str, rng: random.Random) -> str | None:
    """``name`` with one letter changed to a plausible other letter of its script."""
    if script == "korean":
        i = rng.randrange(1, len(name)) if len(name) > 1 else 0
        syll = sorted({c for g in _HANGUL[1] for c in g} - {name[i]})
        return name[:i] + rng.choice(syll) + name[i + 1:]
    if script == "chinese":
        i = rng.randrange(1, len(name)) if len(name) > 1 else 0
        chars = sorted({c for g in _HAN[1] for c in g} - {name[i]})
        return name[:i] + rng.choice(chars) + name[i + 1:]
    if script == "arabic":
        letters = "بتثجحخدذرزسشصضطظعغفقكلمنهوي"
        idx = [i for i, c in enumerate(name) if c in letters]
        if not idx:
            return None
        i = rng.choice(idx)
        return name[:i] + rng.choice(letters.replace(name[i], "")) + name[i + 1:]
    swaps = _SWAPS.get(script, _SWAPS["latin"])
    idx = [i for i, c in enumerate(name) if c.lower() in swaps and i > 0
           and name[i - 1] != " "]  # keep initials: a changed first letter is too easy
    if not idx:
        return None
    i = rng.choice(idx)
    new = rng.choice(swaps[name[i].lower()])
    return name[:i] + (new.upper() if name[i].isupper() else new) + name[i + 1:]


# ------------------------------------------------------------------------------ fonts

_FONT_DIRS = [Path("/usr/share/fonts"), Path("/usr/local/share/fonts"),
              Path.home() / ".local/share/fonts", Path.home() / ".fonts"]
# Candidate fonts per script as (file name, collection face name or None): the first of
# each list that is installed is the app's usual font, the others are what another machine
# would show. Bold faces are looked up by the "-Bold"/"Bold" file name.
_SCRIPT_FONTS = {
    "latin": [("DejaVuSans.ttf", None), ("NotoSans-Regular.ttf", None),
              ("NanumBarunGothic.ttf", None)],
    "cyrillic": [("DejaVuSans.ttf", None), ("NotoSans-Regular.ttf", None)],
    "korean": [("NanumGothic.ttf", None), ("NotoSansCJK-Regular.ttc", "Noto Sans CJK KR"),
               ("NanumBarunGothic.ttf", None)],
    "chinese": [("NotoSansCJK-Regular.ttc", "Noto Sans CJK SC")],
    "arabic": [("NotoSansArabic-Regular.ttf", None), ("NotoNaskhArabic-Regular.ttf", None),
               ("DejaVuSans.ttf", None)],
}
_BOLD_FILES = {"DejaVuSans.ttf": "DejaVuSans-Bold.ttf",
               "NotoSans-Regular.ttf": "NotoSans-Bold.ttf",
               "NanumGothic.ttf": "NanumGothicBold.ttf",
               "NanumBarunGothic.ttf": "NanumBarunGothicBold.ttf",
               "NotoSansCJK-Regular.ttc": "NotoSansCJK-Bold.ttc",
               "NotoSansArabic-Regular.ttf": "NotoSansArabic-Bold.ttf",
               "NotoNaskhArabic-Regular.ttf": "NotoNaskhArabic-Bold.ttf"}
# Sample text a font must draw to count as drawing the script.
_SCRIPT_SAMPLE = {"latin": "Aéłőřşțđ", "cyrillic": "Жёй", "korean": "김민", "chinese": "王伟",
                  "arabic": "محمد"}


@functools.lru_cache(maxsize=None)
def _find_font_file(name: str) -> Path | None:
    import importlib.util

    dirs = list(_FONT_DIRS)
    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.origin:  # matplotlib ships DejaVu Sans
        dirs.insert(0, Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf")
    for d in dirs:
        if not d.is_dir():
            continue
        direct = d / name
        if direct.is_file():
            return direct
        hit = next(iter(sorted(d.rglob(name))), None)
        if hit is not None:
            return hit
    return None


@functools.lru_cache(maxsize=None)
def _face_index(path: Path, face: str | None) -> int:
    from PIL import ImageFont

    if face is None:
        return 0
    for i in range(16):
        try:
            f = ImageFont.truetype(str(path), 12, index=i)
        except OSError:
            break
        if f.getname()[0] == face:
            return i
    return 0


@functools.lru_cache(maxsize=512)
def load_font(file: str, size: int, bold: bool = False, face: str | None = None):
    """A FreeType font by file name (searched in the system font folders), or None."""
    from PIL import ImageFont

    name = _BOLD_FILES.get(file, file) if bold else file
    path = _find_font_file(name) or _find_font_file(file)
    if path is None:
        return None
    return ImageFont.truetype(str(path), max(1, int(size)), index=_face_index(path, face))


@functools.lru_cache(maxsize=None)
def script_fonts(script: str) -> tuple[tuple[str, str | None], ...]:
    """The installed fonts that draw ``script``, usual first (empty: the script is skipped)."""
    out = []
    for file, face in _SCRIPT_FONTS.get(script, []):
        font = load_font(file, 20, face=face)
        if font is not None and covers(font, _SCRIPT_SAMPLE[script]):
            out.append((file, face))
    return tuple(out)


def available_scripts() -> list[str]:
    """The scripts of :data:`SCRIPTS` that an installed font draws."""
    return [s for s in SCRIPTS if script_fonts(s)]


def text_font(text: str, script: str, size: int, bold: bool = False, variant: int = 0):
    """A font that draws all of ``text`` (a name of ``script`` plus what is typed around it).

    ``variant`` picks among the installed fonts of the script (the meeting's machine);
    when that one lacks a character, the others are tried. None when no font draws it.
    """
    cands = list(script_fonts(script)) or list(script_fonts("latin"))
    if cands:
        cands = cands[variant % len(cands):] + cands[:variant % len(cands)]
    for extra in ("latin", "korean", "chinese"):
        cands += [c for c in script_fonts(extra) if c not in cands]
    for file, face in cands:
        font = load_font(file, size, bold, face)
        if font is not None and covers(font, text):
            return font
    return None


# ------------------------------------------------------------------------------ skins

@dataclass
class Skin:
    """The look of one composed meeting; every number drawn around the real app's value.

    Attributes mostly in pixels of the output frame; colours are RGB tuples.
    """

    name: str
    bg: tuple[int, int, int]
    tile_bg: tuple[int, int, int]
    off_bg: tuple[int, int, int]
    gap: int
    label_px: int  # font size of name labels: does not scale with the tile
    box_ratio: float  # label box height / label_px
    box_color: tuple[int, int, int]
    box_alpha: float
    text_color: tuple[int, int, int]
    muted_share: float  # share of participants muted (mic icon)
    border_color: tuple[int, int, int]
    border_px: int
    corner: int  # rounded tile corners (0: square)
    fit: str  # "contain" (letter-/pillar-boxed) or "cover" (cropped to fill)
    chrome: bool  # UI around the gallery (title bar, toolbar, ...)
    crf: int  # H.264 constant rate factor of the final encode
    font_variant: int
    label_margin: int = 0  # distance of the label from the tile's bottom-left corner
    speaker_every: tuple[float, float] = (3.0, 9.0)
    extras: dict = field(default_factory=dict)

    def describe(self) -> dict:
        """Plain dict for the truth file."""
        d = {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(self).items()}
        return d


def _grey(rng: random.Random, lo: int, hi: int) -> tuple[int, int, int]:
    v = rng.randint(lo, hi)
    return (v, v, v)


def _label_size(rng: random.Random, width: int) -> int:
    """Label text size (px): fixed by the app, not the tile; smaller in scaled-down captures.

    Mostly 9-14 px; 8 px in small recordings; up to 20 px on HiDPI captures.
    """
    r = rng.random()
    if width < 1000:
        return rng.choice([8, 8, 9, 9, 10, 11])
    if width < 1500:
        return rng.choice([8, 9, 9, 10, 10, 11, 12, 13]) if r < 0.9 else rng.randint(14, 16)
    return rng.randint(11, 14) if r < 0.8 else rng.randint(15, 20)


def make_skin(name: str, seed: int | str, width: int, height: int) -> Skin:
    """A randomised skin of ``name`` (``zoom``, ``teams``, ``meet``) for a frame size.

    Raises:
        ValueError: an unknown skin name.
    """
    rng = random.Random(f"skin-{name}-{seed}-{width}x{height}")
    px = _label_size(rng, width)
    variant = rng.randrange(3)
    if name == "zoom":
        return Skin(name="zoom", bg=_grey(rng, 8, 22), tile_bg=_grey(rng, 22, 30),
                    off_bg=_grey(rng, 30, 35), gap=rng.randint(2, 6), label_px=px,
                    box_ratio=rng.uniform(1.5, 1.85), box_color=_grey(rng, 40, 55),
                    box_alpha=rng.uniform(0.72, 0.92), text_color=_grey(rng, 220, 250),
                    muted_share=rng.uniform(0.3, 0.85),
                    border_color=(rng.randint(130, 175), rng.randint(200, 235),
                                  rng.randint(20, 70)),
                    border_px=rng.randint(2, 3), corner=0, fit="contain",
                    chrome=rng.random() < 0.7, crf=rng.randint(28, 35), font_variant=variant)
    if name == "teams":
        return Skin(name="teams", bg=_grey(rng, 16, 32), tile_bg=_grey(rng, 36, 48),
                    off_bg=_grey(rng, 40, 52), gap=rng.randint(4, 8), label_px=px,
                    box_ratio=rng.uniform(1.6, 1.9), box_color=_grey(rng, 25, 45),
                    box_alpha=rng.uniform(0.55, 0.78), text_color=_grey(rng, 238, 255),
                    muted_share=rng.uniform(0.3, 0.85),
                    border_color=(rng.randint(90, 125), rng.randint(95, 120),
                                  rng.randint(180, 220)),
                    border_px=rng.randint(2, 3), corner=rng.randint(3, 8),
                    fit=rng.choice(["contain", "cover"]), chrome=rng.random() < 0.6,
                    crf=rng.randint(28, 35), font_variant=variant,
                    label_margin=rng.randint(3, 8))
    if name == "meet":
        return Skin(name="meet", bg=(rng.randint(28, 34), rng.randint(30, 36),
                                     rng.randint(34, 40)),
                    tile_bg=(60, 64, 67), off_bg=(rng.randint(55, 65), rng.randint(60, 68),
                                                  rng.randint(63, 72)),
                    gap=rng.randint(4, 10), label_px=px, box_ratio=1.0,
                    box_color=(0, 0, 0), box_alpha=0.0, text_color=_grey(rng, 240, 255),
                    muted_share=rng.uniform(0.3, 0.85),
                    border_color=(rng.randint(120, 150), rng.randint(170, 190), 248),
                    border_px=rng.randint(2, 3), corner=rng.randint(5, 10),
                    fit=rng.choice(["cover", "cover", "contain"]), chrome=rng.random() < 0.6,
                    crf=rng.randint(28, 35), font_variant=variant,
                    label_margin=rng.randint(6, 12))
    raise ValueError(f"unknown skin {name!r} (known: classic, random, {', '.join(SKINS)})")


# ------------------------------------------------------------------------------ overlays

@dataclass
class Overlay:
    """An RGBA patch placed at ``(x, y)`` of the frame (or of a tile, before placing)."""

    x: int
    y: int
    rgb: np.ndarray  # h x w x 3 uint8
    alpha: np.ndarray  # h x w x 1 float32 in 0..1

    def moved(self, dx: int, dy: int) -> "Overlay":
        return Overlay(self.x + dx, self.y + dy, self.rgb, self.alpha)


def _overlay_from(img, x: int, y: int) -> Overlay:
    a = np.asarray(img.convert("RGBA"))
    return Overlay(x, y, np.ascontiguousarray(a[..., :3]),
                   (a[..., 3:4].astype(np.float32) / 255.0))


def apply_overlay(frame: np.ndarray, ov: Overlay) -> None:
    """Blend ``ov`` into ``frame`` in place (clipped to the frame)."""
    H, W = frame.shape[:2]
    h, w = ov.rgb.shape[:2]
    x0, y0 = max(0, ov.x), max(0, ov.y)
    x1, y1 = min(W, ov.x + w), min(H, ov.y + h)
    if x1 <= x0 or y1 <= y0:
        return
    sx, sy = x0 - ov.x, y0 - ov.y
    a = ov.alpha[sy:sy + y1 - y0, sx:sx + x1 - x0]
    src = ov.rgb[sy:sy + y1 - y0, sx:sx + x1 - x0].astype(np.float32)
    dst = frame[y0:y1, x0:x1].astype(np.float32)
    frame[y0:y1, x0:x1] = (dst + (src - dst) * a + 0.5).astype(np.uint8)


def truncate(text: str, font, max_w: float) -> str:
    """``text`` cut to ``max_w`` pixels with ``...`` as meeting apps cut long names."""
    if font.getlength(text) <= max_w:
        return text
    for k in range(len(text) - 1, 0, -1):
        cand = text[:k].rstrip() + ELLIPSIS
        if font.getlength(cand) <= max_w:
            return cand
    return text[:1] + ELLIPSIS


def _mic_icon(draw, x: int, y: int, s: int, color, slash=True) -> None:
    """A muted-microphone icon in an ``s`` x ``s`` square at ``(x, y)``."""
    s = max(4, s)
    w = max(1, s // 8)
    cx = x + s / 2
    draw.rounded_rectangle([cx - s * 0.18, y + s * 0.05, cx + s * 0.18, y + s * 0.58],
                           radius=s * 0.18, fill=color)
    draw.arc([cx - s * 0.32, y + s * 0.2, cx + s * 0.32, y + s * 0.75], 0, 180,
             fill=color, width=w)
    draw.line([cx, y + s * 0.75, cx, y + s * 0.92], fill=color, width=w)
    draw.line([cx - s * 0.2, y + s * 0.93, cx + s * 0.2, y + s * 0.93], fill=color, width=w)
    if slash:
        draw.line([x + s * 0.12, y + s * 0.1, x + s * 0.88, y + s * 0.95], fill=color,
                  width=max(1, w))


ZOOM_MIC_RED = (224, 46, 36)


@dataclass
class LabelDraw:
    """A rendered name label: its overlay (tile coordinates), printed text and rectangles."""

    overlay: Overlay
    printed: str
    rect: tuple[int, int, int, int]  # the label box (or text area without a box), tile coords
    text_px: int


def render_label(skin: Skin, text: str, script: str, tile_w: int, tile_h: int,
                 muted: bool) -> LabelDraw:
    """The bottom-left name label of a tile in ``skin``'s look.

    Zoom: a translucent grey box flush with the tile's bottom-left corner, a red muted-mic
    icon before the name. Teams: a rounded translucent pill a few pixels in, the mic icon
    after the name. Meet: white text with a soft shadow and no box. The text is cut with
    ``...`` to the tile width; the size does not depend on the tile.
    """
    from PIL import Image, ImageDraw, ImageFilter

    px = skin.label_px
    font = text_font(text, script, px, variant=skin.font_variant)
    if font is None:
        raise ValueError(f"no installed font draws {text!r}")
    bh = max(px + 4, int(round(px * skin.box_ratio)))
    pad = max(2, int(round(px * 0.45)))
    icon = px if muted and skin.name in ("zoom", "teams") else 0
    igap = max(2, px // 3) if icon else 0
    m = skin.label_margin
    avail = tile_w - 2 * m - 2 * pad - icon - igap - 2
    printed = truncate(text, font, max(px, avail))
    tw = int(np.ceil(font.getlength(printed)))
    if skin.name == "meet":
        sh = max(1, px // 6)  # shadow blur and offset
        w, h = tw + 4 * sh + 2, px * 2
        img = Image.new("RGBA", (w, h), (0, 0, 0, 0))
        shadow = Image.new("L", (w, h), 0)
        ImageDraw.Draw(shadow).text((2 * sh, h // 2 + sh), printed, font=font, fill=200,
                                    anchor="lm")
        shadow = shadow.filter(ImageFilter.GaussianBlur(sh + 0.5))
        img.putalpha(shadow)
        ImageDraw.Draw(img).text((2 * sh, h // 2), printed, font=font,
                                 fill=(*skin.text_color, 255), anchor="lm")
        x, y = m, tile_h - m - h
        return LabelDraw(_overlay_from(img, x, y), printed, (x, y, w, h), px)
    w = min(tile_w - 2 * m, pad + icon + igap + tw + pad)
    h = min(bh, tile_h)
    img = Image.new("RGBA", (w, h), (*skin.box_color, int(round(255 * skin.box_alpha))))
    if skin.name == "teams":
        mask = Image.new("L", (w, h), 0)
        ImageDraw.Draw(mask).rounded_rectangle([0, 0, w - 1, h - 1], radius=h // 2 - 1,
                                               fill=int(round(255 * skin.box_alpha)))
        img.putalpha(mask)
    d = ImageDraw.Draw(img)
    if skin.name == "zoom":
        if icon:
            _mic_icon(d, pad, (h - icon) // 2, icon, (*ZOOM_MIC_RED, 255))
        d.text((pad + icon + igap, h // 2), printed, font=font,
               fill=(*skin.text_color, 255), anchor="lm")
    else:  # teams: name first, mic after it
        d.text((pad, h // 2), printed, font=font, fill=(*skin.text_color, 255), anchor="lm")
        if icon:
            _mic_icon(d, pad + tw + igap, (h - icon) // 2, icon, (*skin.text_color, 255))
    x, y = m, tile_h - m - h
    return LabelDraw(_overlay_from(img, x, y), printed, (x, y, w, h), px)


def initials(info: NameInfo, two: bool = True) -> str:
    """What Teams (two letters) and Meet (one) print in the avatar circle."""
    if info.script in ("korean", "chinese"):
        return info.name[:1]
    words = [w for w in re.split(r"[\s\-]+", info.name) if w and w[0].isalpha()]
    if not words:
        return info.name[:1]
    first = words[0][0].upper()
    if two and len(words) > 1 and info.script != "arabic":
        return first + words[-1][0].upper()
    return first


_AVATAR = [(196, 49, 75), (98, 100, 167), (0, 120, 212), (202, 80, 16), (16, 124, 16),
           (135, 100, 184), (0, 153, 188), (194, 57, 179), (118, 118, 118), (234, 67, 53),
           (52, 168, 83), (66, 133, 244)]


@dataclass
class OffTile:
    """A rendered camera-off tile and what it prints."""

    image: np.ndarray
    printed: str
    rect: tuple[int, int, int, int]  # where the name is, tile coords
    text_px: int
    pos: str  # "centre" or "bottom-left"
    avatar_text: str | None = None


def render_camera_off(skin: Skin, info: NameInfo, label_text: str, w: int, h: int,
                      muted: bool, color_seed: int = 0) -> OffTile:
    """A camera-off tile in ``skin``'s look.

    Zoom: a dark tile with the name centred, bold, about twice the label size, and only the
    mic icon at the bottom-left. Teams: a coloured circle with initials and the name under
    it. Meet: a coloured circle with the initial, and the usual bottom-left label.
    """
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (w, h), skin.off_bg)
    d = ImageDraw.Draw(img)
    px = skin.label_px
    if skin.name == "zoom":
        size = 2 * px
        font = text_font(label_text, info.script, size, bold=True, variant=skin.font_variant)
        while size > px and font.getlength(label_text) > 0.9 * w:
            size -= 1
            font = text_font(label_text, info.script, size, bold=True,
                             variant=skin.font_variant)
        printed = truncate(label_text, font, 0.9 * w)
        bb = d.textbbox((w // 2, h // 2), printed, font=font, anchor="mm")
        d.text((w // 2, h // 2), printed, font=font, fill=skin.text_color, anchor="mm")
        if muted:
            s = px
            d.rectangle([0, h - int(px * skin.box_ratio), s + 2 * max(2, px // 2), h],
                        fill=skin.box_color)
            _mic_icon(d, max(2, px // 2), h - int(px * skin.box_ratio) + (
                int(px * skin.box_ratio) - s) // 2, s, ZOOM_MIC_RED)
        rect = (bb[0], bb[1], bb[2] - bb[0], bb[3] - bb[1])
        return OffTile(np.array(img), printed, rect, size, "centre")
    color = _AVATAR[color_seed % len(_AVATAR)]
    r = max(8, int(min(w, h) * (0.2 if skin.name == "teams" else 0.22)))
    cx, cy = w // 2, h // 2 - (r // 3 if skin.name == "teams" else 0)
    d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=color)
    ini = initials(info, two=skin.name == "teams")
    ifont = text_font(ini, info.script, max(8, int(r * 0.8)), bold=skin.name == "meet",
                      variant=skin.font_variant)
    d.text((cx, cy), ini, font=ifont, fill=(255, 255, 255), anchor="mm")
    if skin.name == "teams":
        font = text_font(label_text, info.script, px, variant=skin.font_variant)
        printed = truncate(label_text, font, 0.9 * w)
        y = min(h - px, cy + r + max(4, px // 2) + px // 2 + 1)
        bb = d.textbbox((w // 2, y), printed, font=font, anchor="mm")
        d.text((w // 2, y), printed, font=font, fill=skin.text_color, anchor="mm")
        rect = (bb[0], bb[1], bb[2] - bb[0], bb[3] - bb[1])
        return OffTile(np.array(img), printed, rect, px, "centre", ini)
    tile = np.array(img)
    lab = render_label(skin, label_text, info.script, w, h, muted=False)
    apply_overlay(tile, lab.overlay)
    return OffTile(tile, lab.printed, lab.rect, px, "bottom-left", ini)


def mute_badge(skin: Skin, tile_w: int) -> Overlay | None:
    """Meet shows a muted participant as a mic-off icon in a dark circle, top-right."""
    from PIL import Image, ImageDraw

    if skin.name != "meet":
        return None
    s = max(12, int(skin.label_px * 1.8))
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.ellipse([0, 0, s - 1, s - 1], fill=(32, 33, 36, 200))
    _mic_icon(d, s // 4, s // 4, s // 2, (255, 255, 255, 255))
    m = skin.label_margin
    return _overlay_from(img, tile_w - m - s, m)


@functools.lru_cache(maxsize=64)
def _corner_alpha(r: int) -> np.ndarray:
    """Alpha of the area outside a quarter circle of radius ``r`` (top-left corner)."""
    yy, xx = np.mgrid[0:r, 0:r].astype(np.float32) + 0.5
    d = np.sqrt((r - xx) ** 2 + (r - yy) ** 2)
    return np.clip(d - r + 0.5, 0.0, 1.0)[..., None]


def corner_overlays(skin: Skin, w: int, h: int) -> list[Overlay]:
    """Four small patches painting the background over the tile's corners (Teams and Meet
    round them); tile coordinates."""
    r = min(skin.corner, w // 2, h // 2)
    if r <= 0:
        return []
    a = _corner_alpha(r)
    rgb = np.empty((r, r, 3), np.uint8)
    rgb[:] = skin.bg
    return [Overlay(0, 0, rgb, a), Overlay(w - r, 0, rgb, a[:, ::-1]),
            Overlay(0, h - r, rgb, a[::-1]), Overlay(w - r, h - r, rgb, a[::-1, ::-1])]


def border_overlays(skin: Skin, w: int, h: int) -> list[Overlay]:
    """The active-speaker border inside a tile's edge, as four opaque strips."""
    t = max(1, min(skin.border_px, w // 4, h // 4))

    def strip(x, y, sw, sh):
        rgb = np.empty((sh, sw, 3), np.uint8)
        rgb[:] = skin.border_color
        return Overlay(x, y, rgb, np.ones((sh, sw, 1), np.float32))

    return [strip(0, 0, w, t), strip(0, h - t, w, t), strip(0, t, t, h - 2 * t),
            strip(w - t, t, t, h - 2 * t)]


# ------------------------------------------------------------------------------ chrome

@dataclass
class Chrome:
    """The UI around the gallery: the frame's background with it drawn, where the gallery
    goes, and every text item drawn (never a participant's name)."""

    image: np.ndarray
    content: tuple[int, int, int, int]  # x, y, w, h left for the tiles
    items: list[dict]  # {"text", "rect": [x, y, w, h]}


def _ui_font(size: int, bold: bool = False):
    return text_font("Aa", "latin", max(6, int(size)), bold=bold)


def render_chrome(skin: Skin, width: int, height: int, view: str, participants: int,
                  rng: random.Random, share_by: str | None = None) -> Chrome:
    """Draw ``skin``'s UI around the gallery.

    Args:
        skin: the look (no chrome when ``skin.chrome`` is false: the whole frame is the
            gallery, as in a cloud recording).
        width, height: frame size.
        view: ``gallery``, ``speaker`` or ``screen_share`` (changes the view button and
            adds the sharing banner).
        participants: the count shown on the participants button (may exceed the tiles).
        rng: random source (clock, page count, recording badge): pass a fresh generator of
            a fixed seed so one meeting's chrome stays the same from segment to segment.
        share_by: who shares the screen (the sharing banner names them).
    """
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (width, height), skin.bg)
    d = ImageDraw.Draw(img)
    items: list[dict] = []
    u = skin.label_px

    def text(xy, s, font, fill, anchor="la"):
        d.text(xy, s, font=font, fill=fill, anchor=anchor)
        bb = d.textbbox(xy, s, font=font, anchor=anchor)
        items.append({"text": s, "rect": [int(bb[0]), int(bb[1]), int(bb[2] - bb[0]),
                                          int(bb[3] - bb[1])]})

    recording = rng.random() < 0.5
    pages = rng.choice([1, 1, 2, 3, 4])
    clock = f"{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
    if not skin.chrome:  # a cloud recording: the gallery fills the frame
        return Chrome(np.array(img), (0, 0, width, height), items)
    x0, y0, x1, y1 = 0, 0, width, height
    light = (222, 222, 222)
    if skin.name == "zoom":
        th = int(round(u * 2.2))
        d.rectangle([0, 0, width, th], fill=(36, 36, 38))
        text((width // 2, th // 2), rng.choice(["Zoom Meeting", "Zoom Workplace"]),
             _ui_font(u), (200, 200, 200), "mm")
        y0 = th
        tb = int(round(u * 5.0))
        d.rectangle([0, height - tb, width, height], fill=(26, 26, 28))
        labels = [rng.choice(["Mute", "Unmute"]), rng.choice(["Stop Video", "Start Video"]),
                  "Security", "Participants", "Chat", "Share Screen", "Record", "Reactions"]
        f = _ui_font(u * 0.9)
        slot = (width * 0.8) / len(labels)
        for i, lab in enumerate(labels):
            cx = int(width * 0.06 + slot * (i + 0.5))
            s = int(u * 1.6)
            col = (12, 175, 70) if lab == "Share Screen" else (200, 200, 200)
            d.rounded_rectangle([cx - s // 2, height - tb + u * 0.6, cx + s // 2,
                                 height - tb + u * 0.6 + s], radius=max(1, s // 5),
                                outline=col, width=max(1, u // 8))
            if lab == "Participants":
                text((cx + s // 2 + 2, int(height - tb + u * 0.5)), str(participants),
                     _ui_font(u * 0.75), light)
            text((cx, height - int(u * 1.1)), lab, f, light, "mm")
        lw = int(f.getlength("Leave")) + u * 2
        d.rounded_rectangle([width - lw - u, height - tb + u * 1.4, width - u,
                             height - u * 1.4], radius=max(2, u // 3), fill=(220, 40, 40))
        text((width - u - lw // 2, height - tb // 2), "Leave", f, (255, 255, 255), "mm")
        y1 = height - tb
        view_text = {"gallery": "Speaker View", "speaker": "Gallery View",
                     "screen_share": "View Options"}[view]
        vf = _ui_font(u * 0.9)
        vw = int(vf.getlength(view_text)) + u * 2
        d.rounded_rectangle([width - vw - u, y0 + u * 0.4, width - u, y0 + u * 2.0],
                            radius=max(2, u // 4), fill=(48, 48, 50))
        text((width - u - vw // 2, int(y0 + u * 1.2)), view_text, vf, light, "mm")
        if recording:
            d.ellipse([u, y0 + u * 0.7, u * 1.8, y0 + u * 1.5], fill=(230, 40, 40))
            text((int(u * 2.2), int(y0 + u * 1.1)), "Recording...", vf, light, "lm")
        y0 += int(u * 2.4)
        if share_by:
            bw = int(vf.getlength(f"You are viewing {share_by}'s screen")) + 2 * u
            d.rounded_rectangle([(width - bw) // 2, y0 - u * 2.2, (width + bw) // 2,
                                 y0 - u * 0.4], radius=max(2, u // 4), fill=(35, 150, 70))
            text((width // 2, int(y0 - u * 1.3)), f"You are viewing {share_by}'s screen", vf,
                 (255, 255, 255), "mm")
        if pages > 1 and view == "gallery":
            af = _ui_font(u * 0.9)
            cy = (y0 + y1) // 2
            for side in (0, 1):
                ax = u * 1.2 if side == 0 else width - u * 1.2
                sgn = -1 if side == 0 else 1
                d.polygon([(ax - sgn * u * 0.5, cy - u), (ax + sgn * u * 0.5, cy),
                           (ax - sgn * u * 0.5, cy + u)], fill=(200, 200, 200))
            text((int(width - u * 1.2), int(cy + u * 2)), f"1/{pages}", af, light, "mm")
            x0, x1 = int(u * 2.6), width - int(u * 2.6)
    elif skin.name == "teams":
        th = int(round(u * 3.2))
        d.rectangle([0, 0, width, th], fill=(41, 41, 41))
        f = _ui_font(u * 0.85)
        text((u, th // 2), clock, _ui_font(u), light, "lm")
        buttons = ["Chat", "People", "React", "View", "More", "Camera", "Mic", "Share"]
        bx = width - u * 8
        xs = []
        for lab in reversed(buttons):
            wlab = int(f.getlength(lab)) + u
            bx -= wlab
            xs.append((bx, lab, wlab))
        if xs and xs[-1][0] < u * 6:  # not enough room: fewer buttons
            xs = [x for x in xs if x[0] >= u * 6]
        for bx, lab, wlab in xs:
            s = int(u * 1.2)
            cx = bx + wlab // 2
            d.rounded_rectangle([cx - s // 2, u * 0.4, cx + s // 2, u * 0.4 + s],
                                radius=max(1, s // 4), outline=(210, 210, 210),
                                width=max(1, u // 8))
            text((cx, int(th - u * 0.75)), lab, f, light, "mm")
        d.rounded_rectangle([width - u * 7, u * 0.6, width - u * 0.8, th - u * 0.6],
                            radius=max(2, u // 3), fill=(196, 49, 75))
        text((int(width - u * 3.9), th // 2), "Leave", f, (255, 255, 255), "mm")
        y0 = th + skin.gap
        if share_by:
            text((u, int(y0 + u * 0.9)), f"{share_by} is presenting", f, light, "lm")
            y0 += int(u * 1.8)
    else:  # meet
        tb = int(round(u * 4.6))
        f = _ui_font(u)
        code = "-".join("".join(rng.choice("abcdefghijkmnopqrstuvwxyz") for _ in range(k))
                        for k in (3, 4, 3))
        t = f"{rng.randint(1, 12)}:{rng.randint(0, 59):02d} {rng.choice(['AM', 'PM'])}"
        text((u, height - tb // 2), f"{t} | {code}", f, light, "lm")
        r = int(u * 1.5)
        cx0 = width // 2 - 3 * (2 * r + u // 2)
        for i in range(6):
            cx = cx0 + i * (2 * r + u // 2)
            col = (234, 67, 53) if i == 5 else (60, 64, 67)
            if i == 5:
                d.rounded_rectangle([cx - int(r * 1.4), height - tb // 2 - r,
                                     cx + int(r * 1.4), height - tb // 2 + r], radius=r,
                                    fill=col)
            else:
                d.ellipse([cx - r, height - tb // 2 - r, cx + r, height - tb // 2 + r],
                          fill=col)
        d.ellipse([width - u * 3, height - tb // 2 - r, width - u * 3 + 2 * r,
                   height - tb // 2 + r], fill=(60, 64, 67))
        text((int(width - u * 3 + r), int(height - tb // 2 - r - u * 0.1)),
             str(participants), _ui_font(u * 0.75), light, "mm")
        y1 = height - tb
        if share_by:
            text((u, int(u * 1.2)), f"{share_by} (Presenting)", f, light, "lm")
            y0 = int(u * 2.4)
    return Chrome(np.array(img), (x0, y0, x1 - x0, y1 - y0), items)
