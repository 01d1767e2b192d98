import os

import pytest

from lecturelens.atomic import atomic_csv, atomic_open, write_json


def test_file_appears_only_on_success(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old complete report\n")
    with pytest.raises(RuntimeError):
        with atomic_csv(target, ["a", "b"]) as w:
            w.writerow([1, 2])
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "old complete report\n"
    assert os.listdir(tmp_path) == ["out.csv"]  # no temp file left behind

    with atomic_csv(target, ["a", "b"]) as w:
        w.writerow([1, 2])
    assert target.read_text().splitlines() == ["a,b", "1,2"]


def test_json_and_permissions(tmp_path):
    target = tmp_path / "sub" / "run.json"
    write_json(target, {"status": "ok"})
    assert '"status": "ok"' in target.read_text()
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask


def test_read_mode_rejected(tmp_path):
    with pytest.raises(ValueError):
        with atomic_open(tmp_path / "x", "r"):
            pass
