"""Command line: parses options into a config and calls the library. Nothing else.

The development commands (training and evaluating the emotion model, scoring a report
against a composed gallery's truth) live in :mod:`lecturelens.dev.commands`; the group
loads that module by name only when one of them is asked for (or listed by ``--help``), so
the runtime never imports development code, and an install without :mod:`lecturelens.dev`
simply lacks those commands. ``python -m lecturelens.dev`` runs them on their own.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys

import click

from lecturelens import __version__
from lecturelens.config import AnalyzeConfig, field_help, stage_fields
from lecturelens.errors import LectureLensError, output_error

_DEFAULTS = AnalyzeConfig()


class _UserError(click.ClickException):
    """A :class:`LectureLensError` shown as one line, with its own exit code."""

    def __init__(self, err: LectureLensError):
        super().__init__(str(err))
        self.exit_code = err.exit_code

    def show(self, file=None):
        click.echo(f"lecturelens: error: {self.format_message()}", err=True)


#: Module of the development commands (see the module docs).
DEV_COMMANDS_MODULE = "lecturelens.dev.commands"
#: Their names, so that the group knows them without loading them.
DEV_COMMANDS = ("train-emotion", "soup-emotion", "eval-emotion", "eval-people")


def _dev_command(name: str) -> click.Command | None:
    """A development command, loaded on first use; ``None`` without :mod:`lecturelens.dev`."""
    try:
        module = importlib.import_module(DEV_COMMANDS_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name and DEV_COMMANDS_MODULE.startswith(exc.name):
            return None
        raise
    return module.COMMANDS.get(name)


class CliGroup(click.Group):
    """A command group that shows LectureLens' errors as one line (with their exit codes)
    and knows the development commands without loading them."""

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx))
                      | {n for n in DEV_COMMANDS if _dev_command(n) is not None})

    def get_command(self, ctx, cmd_name):
        cmd = super().get_command(ctx, cmd_name)
        if cmd is None and cmd_name in DEV_COMMANDS:
            cmd = _dev_command(cmd_name)
        return cmd

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except LectureLensError as err:
            raise _UserError(err) from err
        except OSError as err:
            # Output problems (read-only folder, full disk, a file in the way) are ordinary
            # situations with a fix, not bugs to report.
            raise _UserError(output_error(err)) from err


def _option_type(f: dataclasses.Field):
    """The click type of a config field: its choices, a file, or its kind and range."""
    meta, kind = f.metadata, type(f.default)
    lo, hi = meta.get("min"), meta.get("max")
    if meta.get("choices"):
        return click.Choice(meta["choices"])
    if meta.get("path"):
        return click.Path(dir_okay=False)
    if kind is float and lo is not None:
        return click.FloatRange(lo, hi)
    if kind is int and lo is not None:
        return click.IntRange(lo, hi)
    return kind


def _config_option(f: dataclasses.Field):
    """A CLI option backed by an :class:`AnalyzeConfig` field (type, help and default from
    it; a boolean is a ``--name/--no-name`` switch)."""
    default = getattr(_DEFAULTS, f.name)
    flag = "--" + f.name.replace("_", "-")
    if type(f.default) is bool:
        flag = f"{flag}/--no-{flag[2:]}"
    return click.option(flag, f.name, type=_option_type(f), default=None,
                        help=f"{field_help(f.name)} [default: {default}]")


def _report_options(f):
    """Options of the windows/report stage, shared by ``analyze`` and ``report``."""
    for opt in reversed([
        *map(_config_option, stage_fields("report")),
        click.option("--exclude", "exclude", multiple=True, metavar="NAME",
                     help="Name or student id (S04) of a student to remove from every output "
                          "(repeatable; one name per option: a comma is part of the name). "
                          "Added to the config file's list."),
        click.option("--exclude-file", "exclude_file", multiple=True,
                     type=click.Path(dir_okay=False), metavar="FILE",
                     help="File of names or student ids to remove, one per line (# starts a "
                          "comment)."),
        click.option("--exclude-face", "exclude_faces", multiple=True,
                     type=click.Path(dir_okay=False), metavar="PHOTO",
                     help=field_help("exclude_faces").replace("(a list of paths)",
                                                              "(repeatable)")),
    ]):
        f = opt(f)
    return f


def _take_exclusions(options: dict) -> tuple[list[str], list[str]]:
    """Pop the opt-out options: the names (options and files) and the photos."""
    from lecturelens.optout import read_exclude_file

    names = list(options.pop("exclude", ()) or ())
    for path in options.pop("exclude_file", ()) or ():
        names += read_exclude_file(path)
    return names, list(options.pop("exclude_faces", ()) or ())


def _load(config_file, options: dict):
    """The config from the file and the options; the opt-out lists of both are joined (an
    opt-out given anywhere must hold)."""
    from lecturelens.config import load_config

    names, faces = _take_exclusions(options)
    config = load_config(config_file, **options)
    if names or faces:
        config = config.replace(exclude=tuple(dict.fromkeys(config.exclude + tuple(names))),
                                exclude_faces=tuple(dict.fromkeys(config.exclude_faces
                                                                  + tuple(faces))))
    return config


@click.group(cls=CliGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="lecturelens")
def cli():
    """LectureLens: who is visible, who is who, and how the class felt, from a recorded
    Zoom/Teams lecture. Runs offline on the CPU."""


def _analysis_options(f):
    """Every analysis setting as an option, shared by ``analyze`` and ``batch``."""
    for opt in reversed([
        click.option("--config", "config_file", type=click.Path(dir_okay=False),
                     help="TOML config file with an [analyze] table (see "
                          "lecturelens.sample.toml); options given here win over it."),
        *map(_config_option, stage_fields("analyze")),
        _report_options,
    ]):
        f = opt(f)
    return f


@cli.command()
@click.argument("video", type=click.Path(path_type=str))
@click.option("-o", "--output", "outdir", required=True, type=click.Path(file_okay=False),
              help="Folder for reports; each recording gets OUTDIR/<video name>/.")
@_analysis_options
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary.")
def analyze(video, outdir, config_file, quiet, **options):
    """Analyse one recording VIDEO and write reports into OUTDIR/<video name>/."""
    from lecturelens.pipeline import analyze as run_analyze, report_dir
    from lecturelens.reportfiles import REPORT_HTML

    config = _load(config_file, options)
    record = run_analyze(video, outdir, config=config, progress=not quiet)
    if not quiet:
        click.echo(f"{video}: {record['frames_sampled']} frames sampled, "
                   f"{record['faces_detected']} faces, {record['tracks']} face tracks, "
                   f"{record['students']} students ({record['students_named']} named), "
                   f"{record['wall_seconds']:.1f} s ({record['x_real_time']}x real time)")
        rep = record.get("reports", {})
        click.echo(f"{rep.get('windows', 0)} windows, {rep.get('gifs', 0)} GIFs; open "
                   f"{report_dir(video, outdir) / REPORT_HTML}")


@cli.command()
@click.argument("archive", type=click.Path(path_type=str))
@click.option("-o", "--output", "outdir", required=True, type=click.Path(file_okay=False),
              help="Folder for the reports (OUTDIR/<path in the archive>/), the run record "
                   "batch.sqlite and course/.")
@click.option("--jobs", "-j", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Recordings analysed at once (local executor); each job gets cores/jobs "
                   "torch threads unless --threads is given.")
@click.option("--pattern", default=None,
              help="Comma-separated file-name globs of recordings (case-insensitive). "
                   "[default: *.mp4,*.mkv,*.mov,*.webm,*.m4v,*.avi]")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local",
              show_default=True, help="local processes, or tasks on a Dask cluster.")
@click.option("--scheduler", default="",
              help="Dask scheduler address (tcp://HOST:PORT) for --executor dask; workers need "
                   "LectureLens installed and the archive and OUTDIR at the same paths.")
@click.option("--force", is_flag=True, help="Redo recordings that are already done.")
@click.option("--retry-failed", is_flag=True,
              help="Retry recordings that failed on their input although it is unchanged.")
@click.option("--no-course", is_flag=True, help="Do not build OUTDIR/course/.")
@_analysis_options
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def batch(archive, outdir, jobs, pattern, executor, scheduler, force, retry_failed, no_course,
          config_file, quiet, **options):
    """Analyse every recording under ARCHIVE (recursively) into OUTDIR, resumably.

    A rerun skips recordings already done with the same input and settings; a killed batch
    loses nothing. Bad files end as failed with a reason and do not stop the batch. Exit code
    4 when some recordings failed."""
    from lecturelens.batch import DEFAULT_PATTERN, BatchSettings, run_batch

    config = _load(config_file, options)
    settings = BatchSettings(pattern=pattern or DEFAULT_PATTERN, jobs=jobs, executor=executor,
                             scheduler=scheduler, force=force, retry_failed=retry_failed,
                             course=not no_course)
    s = run_batch(archive, outdir, config, settings, progress=not quiet)
    click.echo(f"{s.found} recordings: {len(s.done)} analysed, "
               f"{len(s.skipped)} unchanged (skipped), {len(s.failed)} failed; "
               f"{s.wall_seconds:.0f} s", err=True)
    for key, reason in s.failed:
        click.echo(f"  failed {key}: {reason}", err=True)
    if s.course:
        click.echo(f"course: {s.course['students']} students over {s.course['lectures']} "
                   f"lectures; open {s.course['path']}", err=True)
    sys.exit(s.exit_code)


@cli.command("batch-status")
@click.argument("outdir", type=click.Path(file_okay=False))
def batch_status(outdir):
    """Show the run record of a batch's OUTDIR: each recording's state and timings
    (``interrupted``: the batch was killed while it analysed it; a rerun redoes it)."""
    from lecturelens.batch import batch_status as status

    for r in status(outdir):
        detail = (r["reason"] or "" if r["state"] in ("failed", "interrupted") else
                  f"{r['video_seconds'] or 0:.0f} s video in {r['wall_seconds'] or 0:.1f} s, "
                  f"{r['students']} students, peak {r['peak_rss_mb'] or 0:.0f} MB"
                  if r["state"] == "done" else "")
        click.echo(f"{r['state']:<11} {r['key']}  {detail}")


@cli.command()
@click.argument("report_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--video", type=click.Path(exists=True, dir_okay=False),
              help="The recording, for GIFs (default: the path in run.json).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="TOML config file with an [analyze] table.")
@_report_options
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def report(report_dir, video, config_file, quiet, **options):
    """Rebuild windows, group affect, plots, GIFs and report.html of REPORT_DIR (an
    OUTDIR/<video> folder) from its observations, without running the face models again.
    Settings not given keep the original run's values (unless --config is given). With
    --exclude, --exclude-file or --exclude-face, first removes those students from every
    file."""
    from lecturelens.report import REBUILD_FIELDS, rebuild
    from lecturelens.reportfiles import run_info

    if config_file is None:
        # Without a config file, a rebuild keeps the settings of the original run.
        saved = run_info(report_dir).get("config", {})
        for k in REBUILD_FIELDS:
            if options.get(k) is None and k in saved:
                options[k] = saved[k]
    config = _load(config_file, options)
    summary = rebuild(report_dir, config, video=video, progress=not quiet)
    if not quiet:
        click.echo(f"{report_dir}: {summary['windows']} windows, {summary['gifs']} GIFs"
                   + (f", {summary['excluded_students']} students removed"
                      if summary.get("excluded_students") else ""))


@cli.command("export-features")
@click.argument("report_dirs", nargs=-1, required=True,
                type=click.Path(exists=True, file_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="CSV to write (keys, then f0, f1, ...).")
@click.option("--group", is_flag=True, help="Group descriptors (for train-group-affect) "
              "instead of the students' window descriptors (for train-engagement).")
def export_features(report_dirs, output, group):
    """Write the window descriptors of analysed recordings as one CSV to label and train
    the seed papers' classifiers on."""
    from lecturelens.engagement import export_features as run_export

    n = run_export(report_dirs, output, group=group)
    click.echo(f"{output}: {n} rows")


@cli.command("train-engagement")
@click.argument("features", type=click.Path(dir_okay=False))
@click.argument("labels", type=click.Path(dir_okay=False))
@click.option("-o", "--output", default="engagement_model.json", show_default=True,
              type=click.Path(dir_okay=False), help="Model JSON (a .md card goes beside it).")
@click.option("--alpha", default=1.0, show_default=True, type=click.FloatRange(0.0, min_open=True),
              help="Ridge regularisation.")
def train_engagement(features, labels, output, alpha):
    """Fit the seed paper's engagement regressor (ridge on the std descriptor) on labelled
    windows. LABELS has columns video, student_id, start, engagement (0..1 or level 0-3)."""
    from lecturelens.engagement import train_engagement as fit

    s = fit(features, labels, output, alpha=alpha)
    click.echo(f"{output}: {s['rows']} windows; cross-validated MAE "
               f"{s.get('cv_mae', float('nan')):.3f}, level accuracy "
               f"{s.get('cv_level_accuracy', float('nan')):.3f}")


@cli.command("train-group-affect")
@click.argument("features", type=click.Path(dir_okay=False))
@click.argument("labels", type=click.Path(dir_okay=False))
@click.option("-o", "--output", default="group_affect_model.json", show_default=True,
              type=click.Path(dir_okay=False), help="Model JSON (a .md card goes beside it).")
@click.option("--c", "c", default=1.0, show_default=True, type=click.FloatRange(0.0, min_open=True),
              help="SVC regularisation.")
def train_group_affect(features, labels, output, c):
    """Fit the seed paper's group-affect classifier (linear SVC on the mean and std of the
    visible faces' features). LABELS has columns video, start, group_affect."""
    from lecturelens.engagement import train_group_affect as fit

    s = fit(features, labels, output, c=c)
    click.echo(f"{output}: {s['rows']} windows, classes {', '.join(s['classes'])}; "
               f"cross-validated accuracy {s.get('cv_accuracy', float('nan')):.3f}")


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


@cli.group()
def models():
    """List, fetch and verify the models LectureLens uses."""


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def models_list(as_json):
    """Every model: task, classes, source, installed?, sha256, licence."""
    import json

    from lecturelens.models import all_models

    entries = [e.describe() for e in all_models()]
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return
    for e in entries:
        state = "installed" if e["installed"] else "not installed"
        flag = " (default)" if e["default"] else ""
        click.echo(f"{e['name']}{flag}  [{e['task']}]  {state}")
        click.echo(f"    architecture: {e['architecture']}")
        if e["classes"]:
            click.echo(f"    classes: {', '.join(e['classes'])}")
        click.echo(f"    source: {e['origin']}")
        for f in e["files"]:
            sha = f["sha256"] or "unknown until fetched (recorded in run.json)"
            click.echo(f"    file: {f['path']}  sha256: {sha}")
            if not e["installed"] and f["url"]:
                click.echo(f"    get it: lecturelens models fetch {e['name']}   "
                           f"(or download {f['url']} and pass --emotion-weights PATH)")
        click.echo(f"    licence: {e['licence']}")


@models.command("fetch")
@click.argument("name")
def models_fetch(name):
    """Download model NAME into the cache ($LECTURELENS_HOME) and verify it."""
    from lecturelens.models import fetch

    for f in fetch(name):
        click.echo(f"{name}: {f['path']} sha256 {f['sha256']}")


@models.command("verify")
def models_verify():
    """Check the sha256 of every installed model."""
    from lecturelens.models import all_models

    bad = 0
    for e in all_models():
        if not e.installed():
            continue
        try:
            e.check()
            click.echo(f"[ok  ] {e.name}")
        except LectureLensError as err:
            bad += 1
            click.echo(f"[FAIL] {e.name}: {err}")
    if bad:
        sys.exit(1)


@cli.group()
def people():
    """Students across recordings."""


@people.command("match")
@click.argument("report_dirs", nargs=-1, required=True,
                type=click.Path(exists=True, file_okay=False))
@click.option("-o", "--output", "outdir", required=True, type=click.Path(file_okay=False),
              help="Folder for the course view: course_roster.csv/.json, trends.csv/.png, "
                   "students/*.png and index.html.")
def people_match(report_dirs, outdir):
    """Link the same student across REPORT_DIRS (OUTDIR/<video>/ folders of `analyze`, in
    course order) by name and face; write a course roster with per-lecture ids and each
    student's trends over the lectures (`batch` does this by itself)."""
    from lecturelens.course import load_lecture, match_lectures, write_course_view

    lectures = [load_lecture(d) for d in report_dirs]
    course = match_lectures(lectures)
    view = write_course_view(outdir, lectures, course)
    linked = sum(len(c.ids) > 1 for c in course)
    click.echo(f"{len(course)} students over {len(lectures)} lectures ({linked} seen in more "
               f"than one); open {view['path']}")


@cli.command("config-sample")
def config_sample():
    """Print the commented sample config file (every setting with its default)."""
    from lecturelens.config import sample_config

    click.echo(sample_config(), nl=False)


__all__ = ["cli", "CliGroup"]
