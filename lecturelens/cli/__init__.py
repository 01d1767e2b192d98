"""Command line: parses options into a config and calls the library. Nothing else."""

from __future__ import annotations

import sys

import click

from lecturelens import __version__
from lecturelens.config import AnalyzeConfig, field_help
from lecturelens.errors import LectureLensError

_DEFAULTS = AnalyzeConfig()


class _UserError(click.ClickException):
    """A :class:`LectureLensError` shown as one line, with its own exit code."""

    def __init__(self, err: LectureLensError):
        super().__init__(str(err))
        self.exit_code = err.exit_code

    def show(self, file=None):
        click.echo(f"lecturelens: error: {self.format_message()}", err=True)


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except LectureLensError as err:
            raise _UserError(err) from err


def _config_option(name: str, type_, flag: str | None = None):
    """A CLI option backed by an :class:`AnalyzeConfig` field (help and default from it)."""
    default = getattr(_DEFAULTS, name)
    flag = flag or "--" + name.replace("_", "-")
    return click.option(flag, name, type=type_, default=None,
                        help=f"{field_help(name)} [default: {default}]")


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="lecturelens")
def cli():
    """LectureLens: who is visible, who is who, and how the class felt, from a recorded
    Zoom/Teams lecture. Runs offline on the CPU."""


@cli.command()
@click.argument("video", type=click.Path(path_type=str))
@click.option("-o", "--output", "outdir", required=True, type=click.Path(file_okay=False),
              help="Folder for reports; each recording gets OUTDIR/<video name>/.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="TOML config file with an [analyze] table (see lecturelens.sample.toml); "
                   "options given here win over it.")
@_config_option("fps", click.FloatRange(0.05, 30.0))
@_config_option("min_face", click.IntRange(1, 4096))
@_config_option("detect_min_size", click.IntRange(12, 4096))
@_config_option("detect_threshold", click.FloatRange(0.0, 1.0))
@_config_option("batch_size", click.IntRange(1, 256))
@_config_option("threads", click.IntRange(0, 256))
@_config_option("track_iou", click.FloatRange(0.0, 1.0))
@_config_option("track_max_gap", click.FloatRange(0.0, 3600.0))
@_config_option("track_max_appearance_change", click.FloatRange(0.0, 1.0))
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary.")
def analyze(video, outdir, config_file, quiet, **options):
    """Analyse one recording VIDEO and write reports into OUTDIR/<video name>/."""
    from lecturelens.config import load_config
    from lecturelens.pipeline import analyze as run_analyze, report_dir

    config = load_config(config_file, **options)
    record = run_analyze(video, outdir, config=config, progress=not quiet)
    if not quiet:
        click.echo(f"{video}: {record['frames_sampled']} frames sampled, "
                   f"{record['faces_detected']} faces, {record['tracks']} face tracks, "
                   f"{record['wall_seconds']:.1f} s ({record['x_real_time']}x real time)")
        click.echo(f"reports: {report_dir(video, outdir)}")


@cli.command()
def doctor():
    """Check tesseract, ffmpeg, OpenCV, torch and model files; print fixes. Exit 1 when
    something required is missing."""
    from lecturelens.doctor import run_checks

    failed = False
    for check in run_checks():
        mark = "ok  " if check.ok else ("FAIL" if check.required else "warn")
        click.echo(f"[{mark}] {check.name}: {check.detail}")
        if not check.ok:
            click.echo(f"       fix: {check.fix}")
            failed |= check.required
    if failed:
        click.echo("Some required parts are missing; see the fixes above.", err=True)
        sys.exit(1)
    click.echo("All required parts are in place.")


@cli.command("config-sample")
def config_sample():
    """Print the commented sample config file (every setting with its default)."""
    from lecturelens.config import sample_config

    click.echo(sample_config(), nl=False)


__all__ = ["cli"]
