"""One typed configuration for the whole pipeline.

The same field list drives the command-line options (their help, ranges, choices and
defaults), the TOML config file (``--config FILE``, section ``[analyze]``) and the
commented sample file ``lecturelens.sample.toml`` (regenerate it with
``lecturelens config-sample``).

A leaf: it imports nothing of LectureLens but its errors, so that every stage may read it.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lecturelens.errors import ConfigError

#: What LectureLens' own emotion nets may compute in (``--emotion-precision``).
EMOTION_PRECISIONS = ("auto", "float", "int8")
#: Name OCR engines (``--ocr-engine``).
OCR_ENGINES = ("auto", "ppocr+tesseract", "tesseract")
#: Which moments become GIF clips (``--gifs``).
GIF_MODES = ("none", "strong", "all")

#: Stages a setting belongs to: the analysis (``analyze``, ``batch``), the report stage
#: (also options of ``lecturelens report``) and the opt-out lists.
STAGES = ("analyze", "report", "optout")


def _opt(default, help: str, minimum=None, maximum=None, *, choices: tuple = (),
         path: bool = False, stage: str = "analyze"):
    """A field with its help, range (``minimum``..``maximum``), allowed values
    (``choices``), whether it names a file (``path``) and its stage."""
    return field(default=default, metadata={"help": help, "min": minimum, "max": maximum,
                                            "choices": choices, "path": path,
                                            "stage": stage})


@dataclass
class AnalyzeConfig:
    """Settings for ``lecturelens analyze``. Every field has a default that works."""

    fps: float = _opt(1.0, "Frames sampled per second of video (the seed paper saw no loss at 1 fps).",
                      0.05, 30.0)
    min_face: int = _opt(40, "Faces narrower than this many pixels are kept but flagged 'small' "
                         "(too little detail for identity/emotion).", 1, 4096)
    detect_min_size: int = _opt(20, "Smallest face MTCNN searches for, in pixels; larger is faster.",
                                12, 4096)
    detect_threshold: float = _opt(0.9, "MTCNN final-stage probability needed to keep a face.",
                                   0.0, 1.0)
    detect_interval: float = _opt(
        30.0, "Seconds between full face-detection passes; in between, known faces are "
        "followed by MTCNN's last stage alone, and a full pass runs at once when a face is "
        "lost or something changes outside the known faces. 0 = a full pass on every "
        "sampled frame (slow).", 0.0, 3600.0)
    batch_size: int = _opt(25, "Faces sent through the emotion model at once.", 1, 1024)
    threads: int = _opt(0, "Torch CPU threads (0 = one per core).", 0, 256)
    track_iou: float = _opt(0.3, "Minimum box overlap (IoU) to continue a face track.", 0.0, 1.0)
    track_max_gap: float = _opt(5.0, "Seconds a track may go undetected before it is closed.",
                                0.0, 3600.0)
    track_max_appearance_change: float = _opt(
        0.35, "Largest change of colour appearance (Hellinger distance, 0..1) around a face "
        "that still continues its track; above it (a gallery reshuffle) a new track starts.",
        0.0, 1.0)

    emotion_model: str = _opt("lensnet-fer", "Emotion model from `lecturelens models list` "
                              "('none' skips emotions).")
    emotion_weights: str = _opt("", "Weight file for the emotion model instead of its registry "
                                "location (e.g. an HSEmotion .pt downloaded elsewhere).",
                                path=True)
    emotion_precision: str = _opt("auto", "What LectureLens' own emotion nets compute in: "
                                  "'auto' (int8 when the weights carry its calibration: "
                                  "1.5-3x faster than float, same accuracy; else bfloat16 "
                                  "where the CPU has it), 'float' or 'int8'.",
                                  choices=EMOTION_PRECISIONS)
    emotion_worker: bool = _opt(True, "Run the emotion model in a second process, on the "
                                "second core, beside detection, tracking, names and eyes "
                                "(same results; not on one core or inside batch workers).")

    identity_model: str = _opt("dlib-resnet", "Face-identity model from `lecturelens models "
                               "list` ('none' skips identity: students by names only).")
    identity_weights: str = _opt("", "Weight file for the identity model instead of its "
                                 "registry location (e.g. vggface2 downloaded elsewhere).",
                                 path=True)
    ocr_lang: str = _opt("auto", "Tesseract language(s) for name labels: 'auto' = Latin "
                         "(accents; eng when its model is missing) plus the languages of "
                         "the roster's scripts (Korean names: kor+Latin); or '+'-joined "
                         "installed codes, e.g. 'kor+Latin', 'chi_sim+eng', 'Latin+rus' "
                         "(`lecturelens doctor` lists them); 'none' skips name OCR.")
    ocr_engine: str = _opt("auto", "Name OCR engines: 'auto' (PP-OCR's text detector, then "
                           "PP-OCR and Tesseract read every label and are voted, when "
                           "rapidocr-onnxruntime is installed; else Tesseract alone), "
                           "'ppocr+tesseract' or 'tesseract'.", choices=OCR_ENGINES)
    ocr_budget: float = _opt(0.08, "Largest share of the wall time name OCR may take: rounds "
                             "beyond it are skipped (the first always runs; new faces may "
                             "use 1.25 times as much).", 0.005, 1.0)
    ocr_interval: float = _opt(120.0, "Seconds between routine re-reads of the name labels of "
                               "an unchanged layout (a layout change is read at once).",
                               1.0, 3600.0)
    ocr_min_reads: int = _opt(3, "Readings of each face's label wanted before only routine "
                              "re-reads are done (names are voted over readings).", 1, 100)
    roster: str = _opt("", "CSV of expected names (a 'name' column or one name per row): "
                       "read names snap to it; students not on it are reported.", path=True)
    eye_model: str = _opt("dlib-landmarks68", "68-point landmark model for the eyes-open "
                          "signal ('none' turns it off; the default's training data, iBUG "
                          "300-W, is licensed for non-commercial research only).")

    window: float = _opt(8.0, "Window length in seconds for emotion, engagement and group "
                         "affect (the seed papers use 5-10 s).", 5.0, 10.0, stage="report")
    window_overlap: float = _opt(0.0, "Share of each window that overlaps the next "
                                 "(0 = back to back, 0.5 = half).", 0.0, 0.9, stage="report")
    window_min_share: float = _opt(0.3, "A student's window needs a usable face in at least "
                                   "this share of its sampled frames, else it is "
                                   "'insufficient' (not guessed).", 0.0, 1.0, stage="report")
    engagement_model: str = _opt("", "Engagement model from `lecturelens train-engagement` "
                                 "(JSON) instead of the transparent default.", path=True,
                                 stage="report")
    group_affect_model: str = _opt("", "Group-affect model from `lecturelens "
                                   "train-group-affect` (JSON) instead of the default.",
                                   path=True, stage="report")
    gifs: str = _opt("strong", "GIF clips per student: 'none', 'strong' (the strongest "
                     "moment of each emotion above gif_min_strength) or 'all' (every "
                     "emotion's strongest moment).", choices=GIF_MODES, stage="report")
    gif_seconds: float = _opt(3.0, "Longest GIF clip in seconds.", 1.0, 10.0, stage="report")
    gif_width: int = _opt(160, "GIF width in pixels.", 48, 640, stage="report")
    gif_fps: float = _opt(6.0, "GIF frames per second.", 1.0, 25.0, stage="report")
    gif_max_per_student: int = _opt(3, "Most GIFs per student.", 0, 20, stage="report")
    gif_min_strength: float = _opt(0.1, "How far above neutral (and the student's usual "
                                   "level) an emotion must be for a 'strong' GIF.", 0.0, 1.0,
                                   stage="report")
    exclude: tuple = _opt((), "Names or student ids (S04) of students removed from every "
                          "output: CSV, plots, HTML, GIFs (an opt-out list; a list of "
                          "strings, each one name: a comma is part of a name).",
                          stage="optout")
    exclude_faces: tuple = _opt((), "Photos of students removed from every output, matched "
                                "by face with the run's identity model (a list of paths).",
                                stage="optout")

    def validate(self) -> "AnalyzeConfig":
        """Check types and ranges; raise :class:`ConfigError` naming the bad field."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            kind = type(f.default)
            if kind is tuple:
                setattr(self, f.name, _string_list(f.name, value))
                continue
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
                setattr(self, f.name, value)
            if not isinstance(value, kind) or isinstance(value, bool) != isinstance(f.default, bool):
                raise ConfigError(f"config: {f.name} must be a {kind.__name__}, got {value!r}")
            if kind is float and not math.isfinite(value):
                # NaN passes every comparison of a range check (and then breaks the run).
                raise ConfigError(f"config: {f.name} must be a finite number, got {value!r}")
            lo, hi = f.metadata.get("min"), f.metadata.get("max")
            if lo is not None and value < lo or hi is not None and value > hi:
                raise ConfigError(f"config: {f.name}={value} is outside [{lo}, {hi}]")
            choices = f.metadata.get("choices")
            if choices and value not in choices:
                raise ConfigError(f"config: {f.name} must be {', '.join(choices[:-1])} or "
                                  f"{choices[-1]}, got {value!r}")
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, as recorded in run.json."""
        return dataclasses.asdict(self)

    def replace(self, **changes) -> "AnalyzeConfig":
        """A validated copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes).validate()


def _string_list(name: str, value) -> tuple:
    """A list setting as a tuple of strings.

    A plain string is still taken, as one name per line, for configs written when
    ``exclude`` was one comma-separated string; but a comma in it is an error with the fix,
    because splitting there is what turned "Okafor, Ben" into two people who match nobody.
    """
    if isinstance(value, str):
        if "," in value:
            raise ConfigError(f"config: {name} is a list now (a comma may be part of a name): "
                              f"write {name} = [\"Ana García\", \"Okafor, Ben\"]")
        value = value.splitlines()
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"config: {name} must be a list of strings, got {value!r}")
    return tuple(v.strip() for v in value if v.strip())


def field_help(name: str) -> str:
    """Help text of a config field, shared by the CLI and the sample file."""
    return next(f.metadata["help"] for f in dataclasses.fields(AnalyzeConfig) if f.name == name)


def stage_fields(stage: str) -> list[dataclasses.Field]:
    """The fields of one of :data:`STAGES`, in their order (the CLI's options)."""
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {', '.join(STAGES)}, not {stage!r}")
    return [f for f in dataclasses.fields(AnalyzeConfig) if f.metadata["stage"] == stage]


def load_config(path: str | Path | None = None, **overrides) -> AnalyzeConfig:
    """Build a config from an optional TOML file and explicit overrides.

    Args:
        path: TOML file with an ``[analyze]`` table and nothing else.
        **overrides: field values that win over the file (e.g. options given on the CLI).

    Raises:
        ConfigError: unreadable file, unknown table or key (with the closest known name),
            wrong type, value out of range or not finite.
    """
    values: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: not a valid TOML config file ({exc})") from None
        section = data.get("analyze", {})
        if not isinstance(section, dict):
            raise ConfigError(f"{path}: [analyze] must be a table")
        known = {f.name for f in dataclasses.fields(AnalyzeConfig)}
        # A misspelt table or a setting above the table would otherwise be ignored in
        # silence, and the run would use defaults the user thinks they changed.
        for key in sorted(set(data) - {"analyze"}):
            if isinstance(data[key], dict):
                raise ConfigError(f"{path}: unknown table [{key}]"
                                  + _did_you_mean(key, ["analyze"], "[{}]")
                                  + "; settings go in [analyze]")
            where = ("; put it under [analyze]" if key in known
                     else _did_you_mean(key, known) + "; settings go in [analyze]")
            raise ConfigError(f"{path}: setting {key} is outside any table{where}")
        unknown = sorted(set(section) - known)
        if unknown:
            raise ConfigError(f"{path}: unknown setting(s) in [analyze]: "
                              + "; ".join(k + _did_you_mean(k, known) for k in unknown)
                              + " (`lecturelens config-sample` lists them all)")
        try:
            AnalyzeConfig(**section).validate()
        except ConfigError as exc:  # say which file holds the bad value
            raise ConfigError(f"{path}: {str(exc).removeprefix('config: ')}") from None
        values.update(section)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return AnalyzeConfig(**values).validate()


def _did_you_mean(word: str, choices, fmt: str = "{}") -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean {fmt.format(close[0])}?)" if close else ""


def sample_config() -> str:
    """The commented sample config file, generated from :class:`AnalyzeConfig`."""
    lines = [
        "# LectureLens configuration (TOML). Pass with: lecturelens analyze VIDEO --config FILE",
        "# Options given on the command line win over this file. Generated by",
        "# `lecturelens config-sample`; every value shown is the default.",
        "",
        "[analyze]",
    ]
    for f in dataclasses.fields(AnalyzeConfig):
        lines.append(f"# {f.metadata['help']}")
        lo, hi = f.metadata.get("min"), f.metadata.get("max")
        if lo is not None:
            lines.append(f"# range: {lo} .. {hi}")
        default = f.default
        value = (str(default).lower() if isinstance(default, bool)
                 else "[]" if isinstance(default, tuple) else repr(default))
        lines.append(f"{f.name} = {value}")
        lines.append("")
    return "\n".join(lines)
