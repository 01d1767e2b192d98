from pathlib import Path

import pytest

from lecturelens.config import AnalyzeConfig, load_config, sample_config
from lecturelens.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_sample_file_is_in_sync_with_the_config():
    assert (ROOT / "lecturelens.sample.toml").read_text() == sample_config(), \
        "regenerate with: lecturelens config-sample > lecturelens.sample.toml"


def test_sample_file_loads_to_the_defaults():
    assert load_config(ROOT / "lecturelens.sample.toml") == AnalyzeConfig()


def test_file_values_and_overrides(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[analyze]\nfps = 2\nmin_face = 50\n")
    cfg = load_config(p, min_face=None, batch_size=2)
    assert cfg.fps == 2.0 and isinstance(cfg.fps, float)
    assert cfg.min_face == 50 and cfg.batch_size == 2
    assert load_config(p, fps=0.5).fps == 0.5


@pytest.mark.parametrize("text, words", [
    ("[analyze]\nfsp = 2\n", ["unknown setting", "fsp", "fps"]),
    ("[analyze]\nfps = 'fast'\n", ["fps must be a float"]),
    ("[analyze]\nfps = 100\n", ["outside"]),
    ("[analyze\nfps = 1\n", ["not a valid toml"]),
    ("analyze = 3\n", ["must be a table"]),
    # A misspelt table, a setting above the table: no longer ignored in silence.
    ("[analyse]\nfps = 2\n", ["unknown table [analyse]", "did you mean [analyze]"]),
    ("[names]\nwhatever = 1\n", ["unknown table [names]"]),
    ("fps = 2\n[analyze]\n", ["fps is outside any table", "under [analyze]"]),
    ("fsp = 2\n", ["fsp is outside any table", "did you mean fps"]),
    ("[analyze]\nwindw = 6\n", ["unknown setting", "did you mean window"]),
    # NaN and infinity pass every range comparison; they must not reach the run.
    ("[analyze]\nfps = nan\n", ["fps must be a finite number"]),
    ("[analyze]\nwindow = nan\n", ["window must be a finite number"]),
    ("[analyze]\ngif_seconds = nan\n", ["gif_seconds must be a finite number"]),
    ("[analyze]\ngif_fps = inf\n", ["gif_fps must be a finite number"]),
    ("[analyze]\ndetect_threshold = -nan\n", ["must be a finite number"]),
    # The old comma-separated opt-out string: an error with the fix, never a guess.
    ("[analyze]\nexclude = 'Okafor, Ben'\n", ["exclude is a list now", "okafor, ben"]),
    ("[analyze]\nexclude = [1]\n", ["exclude must be a list of strings"]),
])
def test_bad_config_files(tmp_path, text, words):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(p)
    msg = str(err.value).lower()
    assert str(p).lower() in msg or "fps" in msg
    for w in words:
        assert w in msg


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "none.toml")


def test_bool_is_not_an_int():
    with pytest.raises(ConfigError):
        AnalyzeConfig(batch_size=True).validate()


def test_exclude_lists_keep_commas_and_take_a_single_name(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[analyze]\nexclude = ["Okafor, Ben", " Ana García "]\n'
                 'exclude_faces = ["a.jpg"]\n', encoding="utf-8")
    cfg = load_config(p)
    assert cfg.exclude == ("Okafor, Ben", "Ana García") and cfg.exclude_faces == ("a.jpg",)
    assert AnalyzeConfig(exclude="Ana García").validate().exclude == ("Ana García",)
    assert AnalyzeConfig(exclude=["S04"]).validate().exclude == ("S04",)
    assert AnalyzeConfig().validate().exclude == ()
