import json

import pytest
from click.testing import CliRunner

from lecturelens import __version__
from lecturelens.__main__ import main
from lecturelens.cli import cli


@pytest.fixture
def runner():
    return CliRunner()


def test_version(runner):
    res = runner.invoke(cli, ["--version"])
    assert res.exit_code == 0 and __version__ in res.output


@pytest.mark.parametrize("cmd", [[], ["analyze"], ["doctor"], ["config-sample"]])
def test_help_everywhere(runner, cmd):
    res = runner.invoke(cli, cmd + ["--help"])
    assert res.exit_code == 0
    assert "Usage:" in res.output


def test_analyze_help_shows_defaults(runner):
    out = runner.invoke(cli, ["analyze", "--help"]).output
    for opt in ["--fps", "--min-face", "--config", "--output", "--quiet"]:
        assert opt in out
    assert "[default: 1.0]" in out and "[default: 40]" in out


def _error_line(res):
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1, res.output
    assert lines[0].startswith("lecturelens: error: ")
    return lines[0]


def test_missing_video_is_one_clear_line(runner, tmp_path):
    res = runner.invoke(cli, ["analyze", str(tmp_path / "lecture.mp4"), "-o", str(tmp_path / "r")])
    assert res.exit_code == 2
    assert "lecture.mp4: no such file" in _error_line(res)
    assert not (tmp_path / "r").exists()  # nothing written for bad input


@pytest.mark.parametrize("make, words", [
    (lambda p: p.touch(), "empty"),
    (lambda p: p.write_text("hello\n" * 50), "not a video"),
])
def test_bad_files_exit_nonzero_without_output(runner, tmp_path, make, words):
    bad = tmp_path / "bad.mp4"
    make(bad)
    res = runner.invoke(cli, ["analyze", str(bad), "-o", str(tmp_path / "r")])
    assert res.exit_code == 2
    assert words in _error_line(res)
    assert not (tmp_path / "r").exists()


def test_audio_only_via_main(tmp_path, ffmpeg, capsys):
    p = tmp_path / "talk.m4a"
    ffmpeg("-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", str(p))
    assert main(["analyze", str(p), "-o", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lecturelens: error:") and "no video stream" in err


def test_bad_config_file(runner, tmp_path, testsrc_video):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[analyze]\nfsp = 3\n")
    res = runner.invoke(cli, ["analyze", str(testsrc_video), "-o", str(tmp_path / "r"),
                              "--config", str(cfg)])
    assert res.exit_code == 2 and "unknown setting" in _error_line(res)


def test_out_of_range_option(runner, tmp_path, testsrc_video):
    res = runner.invoke(cli, ["analyze", str(testsrc_video), "-o", str(tmp_path), "--fps", "0"])
    assert res.exit_code == 2 and "--fps" in res.output


def test_analyze_writes_reports(runner, tmp_path, astronaut_gallery):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[analyze]\nfps = 2.0\nbatch_size = 3\n")
    res = runner.invoke(cli, ["analyze", str(astronaut_gallery), "-o", str(tmp_path / "r"),
                              "--config", str(cfg), "--fps", "1", "-q"])
    assert res.exit_code == 0, res.output
    run = json.loads((tmp_path / "r" / "astro_2x2" / "run.json").read_text())
    assert run["status"] == "ok"
    assert run["config"]["fps"] == 1.0 and run["config"]["batch_size"] == 3  # CLI wins
    assert run["frames_sampled"] == 4


def test_doctor_reports_each_check(runner):
    res = runner.invoke(cli, ["doctor"])
    for name in ["python", "torch", "models", "ffmpeg", "opencv", "tesseract"]:
        assert f"] {name}" in res.output
    assert res.exit_code in (0, 1)
    assert (res.exit_code == 0) == ("[FAIL]" not in res.output)


def test_doctor_fails_with_fix_when_tesseract_missing(runner, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    res = runner.invoke(cli, ["doctor"])
    assert res.exit_code == 1
    assert "[FAIL] tesseract" in res.output and "apt-get install -y tesseract-ocr" in res.output


def test_config_sample_roundtrip(runner, tmp_path):
    res = runner.invoke(cli, ["config-sample"])
    assert res.exit_code == 0 and "[analyze]" in res.output


def test_models_list_offline(runner, tmp_path, monkeypatch):
    monkeypatch.setenv("LECTURELENS_HOME", str(tmp_path))
    res = runner.invoke(cli, ["models", "list"])
    assert res.exit_code == 0
    out = res.output
    assert "lensnet-fer (default)  [emotion]  installed" in out
    assert "mtcnn (default)  [face-detection]  installed" in out
    assert "enet_b0_8_best_vgaf  [emotion]  not installed" in out
    assert "lecturelens models fetch enet_b0_8_best_vgaf" in out
    data = json.loads(runner.invoke(cli, ["models", "list", "--json"]).output)
    assert {d["name"] for d in data} >= {"lensnet-fer", "mtcnn", "vggface2", "enet_b2_8"}


def test_models_fetch_unknown_name(runner):
    res = runner.invoke(cli, ["models", "fetch", "nope"])
    assert res.exit_code == 3 and "choose from" in _error_line(res)


def test_models_verify(runner):
    res = runner.invoke(cli, ["models", "verify"])
    assert res.exit_code == 0 and "[ok  ] lensnet-fer" in res.output


def test_eval_emotion_json_and_bad_folder(runner, tmp_path, astronaut):
    from PIL import Image

    (tmp_path / "happiness").mkdir()
    Image.fromarray(astronaut).save(tmp_path / "happiness" / "a.png")
    res = runner.invoke(cli, ["eval-emotion", str(tmp_path), "--json", "-q"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["images"] == 1 and data["faces_found"] == 1.0
    assert data["per_class"]["happy"]["support"] == 1
    res = runner.invoke(cli, ["eval-emotion", str(tmp_path / "none"), "-q"])
    assert res.exit_code == 2 and "not a folder" in _error_line(res)


def test_analyze_emotion_options(runner, tmp_path, astronaut_gallery):
    res = runner.invoke(cli, ["analyze", str(astronaut_gallery), "-o", str(tmp_path),
                              "--emotion-model", "nope", "-q"])
    assert res.exit_code == 3 and "choose from" in _error_line(res)
    res = runner.invoke(cli, ["analyze", str(astronaut_gallery), "-o", str(tmp_path),
                              "--emotion-model", "enet_b2_8", "-q",
                              "--emotion-weights", str(tmp_path / "missing.pt")])
    assert res.exit_code == 3 and "not found" in _error_line(res)


def test_analyze_emotion_worker_can_be_turned_off(runner, tmp_path, astronaut_gallery):
    res = runner.invoke(cli, ["analyze", str(astronaut_gallery), "-o", str(tmp_path), "-q",
                              "--no-emotion-worker", "--gifs", "none"])
    assert res.exit_code == 0, res.output
    run = json.loads((tmp_path / "astro_2x2" / "run.json").read_text())
    assert run["config"]["emotion_worker"] is False
    assert run["models"][-1]["process"] == "main" and "emotion_worker" not in run["timings"]


def test_eval_people_text_and_json(runner, tmp_path, people_report, people_truth):
    truth = tmp_path / "g.truth.json"
    truth.write_text(json.dumps(people_truth), encoding="utf-8")
    res = runner.invoke(cli, ["eval-people", str(people_report), str(truth)])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0] == ("ARI 1.0000 over 20 faces; students found 3 of 3; exact names 100.0%")
    assert len(lines) == 4 and all(ln.startswith("  [ok ] ") for ln in lines[1:])
    assert "Léa Dubois" in lines[3] and "S03" in lines[3]
    res = runner.invoke(cli, ["eval-people", str(people_report), str(truth), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["ari"] == 1.0 and data["students_found"] == data["students_true"] == 3
    assert data["people"]["lea"]["student_name"] == "Léa Dubois"
    assert "Léa" in res.output  # readable UTF-8, not \u escapes


def test_eval_people_reports_a_wrong_name(runner, tmp_path, people_truth,
                                          write_people_report):
    faces = [(float(t), 1, "S01", 0) for t in range(10)]
    faces += [(float(t), 2, "S02", 110) for t in range(10)]
    report = write_people_report(tmp_path / "r", faces,
                                 [("S01", "Ana Garcia"), ("S02", "Ben Okafor")])
    truth = tmp_path / "g.truth.json"
    truth.write_text(json.dumps(people_truth), encoding="utf-8")
    res = runner.invoke(cli, ["eval-people", str(report), str(truth)])
    assert res.exit_code == 0, res.output
    assert "students found 2 of 3; exact names 33.3%" in res.output
    assert [ln[:8] for ln in res.output.splitlines()[1:]] == ["  [BAD] ", "  [ok ] ", "  [BAD] "]


@pytest.mark.parametrize("content", ["not json at all", '{"video": "g.mp4"}', "[1, 2]"])
def test_eval_people_bad_truth_file(runner, tmp_path, people_report, content):
    truth = tmp_path / "bad.json"
    truth.write_text(content)
    res = runner.invoke(cli, ["eval-people", str(people_report), str(truth)])
    assert res.exit_code not in (0, 70)
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "bad.json: not a truth file" in lines[0], res.output
    assert not isinstance(res.exception, (KeyError, TypeError)), res.exception


def test_eval_people_folder_without_students(runner, tmp_path, people_report, people_truth):
    truth = tmp_path / "g.truth.json"
    truth.write_text(json.dumps(people_truth), encoding="utf-8")
    (people_report / "students.csv").unlink()
    res = runner.invoke(cli, ["eval-people", str(people_report), str(truth)])
    assert res.exit_code == 2
    assert "no students.csv" in _error_line(res)


def test_analyze_missing_roster(runner, tmp_path, astronaut_gallery):
    res = runner.invoke(cli, ["analyze", str(astronaut_gallery), "-o", str(tmp_path / "r"),
                              "--roster", str(tmp_path / "missing.csv"), "-q"])
    assert res.exit_code == 2
    assert "missing.csv: roster file not found" in _error_line(res)
