"""read_roster on real files in the encodings and layouts Excel, LMSs and editors write."""

from __future__ import annotations

import codecs
import warnings

import pytest

from lecturelens.errors import InputError
from lecturelens.people import read_roster

NAMES = ["José Muñoz", "강미숙", "王小明", "Иван Петров", "محمد علي", "Zoë O’Brien"]


def _write(tmp_path, data: bytes, name: str = "roster.csv"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _read(path) -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no duplicate warning expected here
        return read_roster(path)


@pytest.mark.parametrize("encoding, bom", [
    ("utf-8", b""), ("utf-8", codecs.BOM_UTF8), ("utf-16-le", codecs.BOM_UTF16_LE),
    ("utf-16-be", codecs.BOM_UTF16_BE), ("utf-32-le", codecs.BOM_UTF32_LE),
])
def test_unicode_encodings(tmp_path, encoding, bom):
    text = "name,email\n" + "".join(f"{n},{i}@x.org\n" for i, n in enumerate(NAMES))
    assert _read(_write(tmp_path, bom + text.encode(encoding))) == NAMES


def test_utf16_without_bom(tmp_path):
    text = "Name\r\nAna García\r\nБорис Ельцин\r\n"
    assert _read(_write(tmp_path, text.encode("utf-16-le"))) == ["Ana García", "Борис Ельцин"]
    assert _read(_write(tmp_path, text.encode("utf-16-be"))) == ["Ana García", "Борис Ельцин"]


def test_excel_unicode_text_is_utf16_tab_separated(tmp_path):
    # Excel's "Unicode Text (*.txt)": UTF-16 LE with BOM, tab-separated, CRLF.
    text = "Email\tName\tGroup\r\nk@x.kr\t강미숙\tA\r\nw@x.cn\t王小明\tB\r\n"
    path = _write(tmp_path, text.encode("utf-16"), "roster.txt")
    assert _read(path) == ["강미숙", "王小明"]


def test_windows_1252_fallback(tmp_path):
    # Excel's "CSV (Comma delimited)" on Western Windows; ’ Œ Š are not in Latin-1.
    text = "name;email\r\nZoë O’Brien;z@x.org\r\nŒdipe Šimek;o@x.org\r\nJosé Muñoz;j@x.org\r\n"
    path = _write(tmp_path, text.encode("cp1252"))
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")  # really not UTF-8
    assert _read(path) == ["Zoë O’Brien", "Œdipe Šimek", "José Muñoz"]


def test_semicolon_separated_with_commas_in_names_stays_comma(tmp_path):
    # A comma on the first line means commas separate (the usual CSV); semicolons stay.
    path = _write(tmp_path, "name,id\n\"Okafor, Ben; Jr\",7\n".encode())
    assert _read(path) == ["Okafor, Ben; Jr"]


def test_names_are_cleaned(tmp_path):
    raw = ("name\n"
           "Ana\x00 Garc\x00ía\n"            # stray NULs of a truncated export
           "\u200fمحمد علي\u200e\n"          # bidi marks around an Arabic name
           "Jose\u0301\u00a0 Mun\u0303oz\x07\n"  # decomposed accents, NBSP, a BEL
           "\ufeffLéa\tDubois\u200b\n"       # stray BOM, tab, zero-width space
           "\u0645\u06cc\u200c\u0631\n")     # ZWNJ is part of the Persian spelling: kept
    names = _read(_write(tmp_path, raw.encode()))
    assert names == ["Ana García", "محمد علي", "José Muñoz", "Léa Dubois",
                     "\u0645\u06cc\u200c\u0631"]
    assert names[2] == "Jos\u00e9 Mu\u00f1oz"


def test_duplicates_dropped_first_spelling_wins_with_a_warning(tmp_path):
    text = "Ana García\nana garcía\nBen Okafor\nANA GARCÍA\n강미숙\n강미숙\nBen  Okafor\n"
    path = _write(tmp_path, text.encode())
    with pytest.warns(UserWarning) as record:
        names = read_roster(path)
    assert names == ["Ana García", "Ben Okafor", "강미숙"]
    assert len(record) == 1
    msg = str(record[0].message)
    assert msg.startswith(f"{path}: 4 duplicate name(s) dropped") and "\n" not in msg
    assert "ana garcía, ANA GARCÍA, 강미숙, ..." in msg


@pytest.mark.parametrize("data, words", [
    (b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256)) * 4, "ZIP archive (an Excel .xlsx"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(200), "Excel .xls"),
    (b"%PDF-1.7\n" + bytes(range(256)), "a PDF"),
    (b"\x89PNG\r\n\x1a\n" + bytes(100), "PNG image"),
    (bytes(range(256)) * 8, "neither UTF-8, UTF-16 nor Windows-1252"),  # has 0x81
    (b"\x01\x02\x03\x04\x05\x06abc\x07\x08\x0e\x0f" * 20, "binary data"),
    (codecs.BOM_UTF8 + b"Jos\xe9\n", "UTF-8-SIG byte-order mark but is not valid"),
    # EUC-KR (Korean Windows' "ANSI"): not UTF-8, and symbols when read as Windows-1252.
    ("name\n강미숙\n김민준\n".encode("cp949"), "legacy East Asian encoding"),
    ("王小明\n李娜\n".encode("gbk"), "legacy East Asian encoding"),
])
def test_not_text_is_a_one_line_input_error(tmp_path, data, words):
    path = _write(tmp_path, data)
    with pytest.raises(InputError, match="cannot read the roster") as err:
        read_roster(path)
    msg = str(err.value)
    assert words in msg and msg.startswith(f"{path}: ") and "\n" not in msg
    assert "Save As > CSV UTF-8" in msg and err.value.exit_code == 2
