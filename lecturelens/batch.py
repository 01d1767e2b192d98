"""Semester batch: analyse every recording of an archive, resumably, one process per job.

The run record is an SQLite file in OUTDIR (``batch.sqlite``): one row per recording with its
state (pending/running/done/failed), the reason of a failure, timings, and the fingerprints of
its input and of the analysis settings. A rerun skips recordings that are done (or failed on
their input) with the same fingerprints, so it does no work twice; ``force`` redoes them.

Each recording is analysed in its own worker (a fresh local process, or a task on a Dask
cluster) into a staging folder, ``OUTDIR/.staging/``; only a finished report is moved into
place, and only then is it marked done. A crash or ``kill -9`` anywhere therefore leaves
either the previous complete report or none, and the rerun redoes exactly the recordings
that were not done. A worker that crashes (segfault, out of memory) fails its recording
only, never the batch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import hashlib
import json
import os
import shutil
import socket
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

from lecturelens import __version__, reportfiles
from lecturelens.childproc import die_with_parent
from lecturelens.config import AnalyzeConfig
from lecturelens.course import load_lecture, match_lectures, write_course_view
from lecturelens.errors import ConfigError, InputError, LectureLensError, output_error
from lecturelens.optout import redact_argv
from lecturelens.people import read_roster
from lecturelens.pipeline import analyze

RECORD_FILE = "batch.sqlite"
LOCK_FILE = ".batch.lock"
STAGING_DIR = ".staging"
COURSE_DIR = "course"
DEFAULT_PATTERN = "*.mp4,*.mkv,*.mov,*.webm,*.m4v,*.avi"
# Settings that change how fast a report is made, not what it says.
_NOT_HASHED = {"threads", "batch_size"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS recordings (
    key TEXT PRIMARY KEY,            -- path relative to the archive
    path TEXT NOT NULL,              -- absolute path when last seen
    report TEXT NOT NULL,            -- report folder, relative to OUTDIR
    size INTEGER, mtime_ns INTEGER,
    fingerprint TEXT,                -- sha256 of size + first and last MiB
    config_hash TEXT,
    state TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed')),
    reason TEXT,                     -- one line, for failed
    input_error INTEGER DEFAULT 0,   -- 1: the file itself is bad (not retried unchanged)
    attempts INTEGER DEFAULT 0,
    worker TEXT,
    started_at REAL, finished_at REAL,
    wall_seconds REAL, video_seconds REAL, x_real_time REAL,
    peak_rss_mb REAL, students INTEGER,
    timings TEXT                     -- JSON: seconds per stage, from run.json
);
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at REAL, finished_at REAL, argv TEXT, archive TEXT, config_hash TEXT,
    executor TEXT, jobs INTEGER, found INTEGER, skipped INTEGER, done INTEGER, failed INTEGER,
    status TEXT,
    peak_rss_mb REAL                 -- of the batch process itself (it loads no model)
);
"""


@dataclass
class BatchSettings:
    """How a batch runs (what each recording's analysis does is an :class:`AnalyzeConfig`).

    Attributes:
        pattern: comma-separated file-name globs (case-insensitive) of the recordings.
        jobs: recordings analysed at once (local executor).
        executor: ``local`` (processes on this machine) or ``dask``.
        scheduler: Dask scheduler address (``tcp://HOST:PORT``) for the dask executor.
        force: redo recordings that are already done.
        retry_failed: retry recordings that failed on their input although it is unchanged.
        course: build ``OUTDIR/course/`` after the batch.
    """

    pattern: str = DEFAULT_PATTERN
    jobs: int = 1
    executor: str = "local"
    scheduler: str = ""
    force: bool = False
    retry_failed: bool = False
    course: bool = True

    def validate(self) -> "BatchSettings":
        if self.jobs < 1:
            raise ConfigError(f"--jobs must be at least 1 (got {self.jobs})")
        if self.executor not in ("local", "dask"):
            raise ConfigError(f"--executor must be local or dask (got {self.executor!r})")
        if self.executor == "dask" and not self.scheduler:
            raise ConfigError("--executor dask needs --scheduler tcp://HOST:PORT (the address "
                              "printed by `dask scheduler`)")
        if not [p for p in self.pattern.split(",") if p.strip()]:
            raise ConfigError("--pattern is empty; give globs such as '*.mp4,*.mkv'")
        return self


@dataclass
class Recording:
    """One recording found in the archive."""

    key: str        # path relative to the archive, with '/'
    path: Path
    report: str     # report folder relative to OUTDIR
    size: int
    mtime_ns: int
    fingerprint: str


@dataclass
class Outcome:
    """What one worker reports back for one recording."""

    key: str
    ok: bool
    reason: str = ""
    input_error: bool = False
    record: dict = dataclasses.field(default_factory=dict)
    peak_rss_mb: float = 0.0
    worker: str = ""


# --------------------------------------------------------------------------- discovery

def find_recordings(archive: str | Path, pattern: str = DEFAULT_PATTERN,
                    skip: Sequence[Path] = ()) -> list[Path]:
    """Files under ``archive`` (recursively) whose name matches one of ``pattern``'s globs.

    Hidden files and folders and the folders in ``skip`` (e.g. OUTDIR inside the archive) are
    left out. Sorted by path, which is the course order: name recordings by date.

    Raises:
        InputError: ``archive`` is not a folder.
    """
    root = Path(archive)
    if not root.is_dir():
        raise InputError(f"{root}: not a folder; give the folder that holds the recordings "
                         "(use `lecturelens analyze` for one file)")
    globs = [g.strip().lower() for g in pattern.split(",") if g.strip()]
    skip_real = {p.resolve() for p in skip}
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        dirnames[:] = sorted(n for n in dirnames
                             if not n.startswith(".") and (d / n).resolve() not in skip_real)
        for n in filenames:
            if not n.startswith(".") and any(fnmatch.fnmatch(n.lower(), g) for g in globs):
                found.append(d / n)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def fingerprint(path: Path, size: int) -> str:
    """sha256 of the size and the first and last MiB: cheap, and changes when the file does."""
    h = hashlib.sha256(str(size).encode())
    with open(path, "rb") as fh:
        h.update(fh.read(1 << 20))
        if size > 2 << 20:
            fh.seek(-(1 << 20), os.SEEK_END)
            h.update(fh.read(1 << 20))
    return h.hexdigest()


def config_hash(config: AnalyzeConfig) -> str:
    """Hash of the settings that shape a report (not of thread counts), and the version."""
    d = {k: v for k, v in config.to_dict().items() if k not in _NOT_HASHED}
    for k in ("roster", "emotion_weights", "identity_weights", "engagement_model",
              "group_affect_model"):
        # A changed roster or model file changes the reports although its path does not.
        if d.get(k) and Path(d[k]).is_file():
            d[k] = [d[k], hashlib.sha256(Path(d[k]).read_bytes()).hexdigest()]
    d["exclude_faces"] = [[p, hashlib.sha256(Path(p).read_bytes()).hexdigest()]
                          if Path(p).is_file() else p for p in d.get("exclude_faces", ())]
    blob = json.dumps({"config": d, "lecturelens": __version__}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _report_names(keys: Sequence[str]) -> dict[str, str]:
    """Report folder per recording key: the key without its extension, unless two
    recordings would share it (then the extension stays in the name) or it would take the
    course folder's place."""
    stems: dict[str, list[str]] = {}
    for k in keys:
        stems.setdefault(k.rsplit(".", 1)[0] if "." in Path(k).name else k, []).append(k)
    out = {}
    for stem, ks in stems.items():
        for k in ks:
            name = stem if len(ks) == 1 else k.replace(".", "_")
            if name == COURSE_DIR or name.startswith("."):
                name = "recording_" + name.lstrip(".")
            out[k] = name
    return out


def scan(archive: Path, outdir: Path, pattern: str) -> list[Recording]:
    """The archive's recordings with their fingerprints and report folders."""
    paths = find_recordings(archive, pattern, skip=[outdir])
    keys = [p.relative_to(archive).as_posix() for p in paths]
    names = _report_names(keys)
    recs = []
    for k, p in zip(keys, paths):
        st = p.stat()
        try:
            fp = fingerprint(p, st.st_size)
        except OSError as exc:
            fp = f"unreadable: {exc.strerror}"
        recs.append(Recording(k, p.resolve(), names[k], st.st_size, st.st_mtime_ns, fp))
    return recs


# --------------------------------------------------------------------------- run record

class RunRecord:
    """The batch's SQLite run record (``OUTDIR/batch.sqlite``)."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self.db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
            self.db.row_factory = sqlite3.Row
            self.db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{path}: not a LectureLens run record ({exc}); move it away or "
                             "give another -o folder") from None

    def close(self) -> None:
        self.db.close()

    def get(self, key: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM recordings WHERE key = ?", (key,)).fetchone()

    def rows(self) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM recordings ORDER BY key").fetchall()

    def upsert_pending(self, rec: Recording, chash: str) -> None:
        self.db.execute(
            "INSERT INTO recordings (key, path, report, size, mtime_ns, fingerprint, "
            "config_hash, state) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending') "
            "ON CONFLICT(key) DO UPDATE SET path = excluded.path, report = excluded.report, "
            "size = excluded.size, mtime_ns = excluded.mtime_ns, "
            "fingerprint = excluded.fingerprint, config_hash = excluded.config_hash, "
            "state = 'pending', reason = NULL, input_error = 0",
            (rec.key, str(rec.path), rec.report, rec.size, rec.mtime_ns, rec.fingerprint,
             chash))

    def mark_running(self, key: str, worker: str) -> None:
        self.db.execute("UPDATE recordings SET state = 'running', worker = ?, started_at = ?, "
                        "finished_at = NULL, attempts = attempts + 1 WHERE key = ?",
                        (worker, time.time(), key))

    def mark_done(self, out: Outcome) -> None:
        r = out.record
        self.db.execute(
            "UPDATE recordings SET state = 'done', reason = NULL, input_error = 0, "
            "finished_at = ?, wall_seconds = ?, video_seconds = ?, x_real_time = ?, "
            "peak_rss_mb = ?, students = ?, timings = ?, worker = ? WHERE key = ?",
            (time.time(), r.get("wall_seconds"), r.get("input", {}).get("duration"),
             r.get("x_real_time"), round(out.peak_rss_mb, 1), r.get("students"),
             json.dumps(r.get("timings", {})), out.worker, out.key))

    def mark_failed(self, out: Outcome) -> None:
        self.db.execute("UPDATE recordings SET state = 'failed', reason = ?, input_error = ?, "
                        "finished_at = ?, worker = ? WHERE key = ?",
                        (out.reason, int(out.input_error), time.time(), out.worker, out.key))

    def reset_running(self) -> int:
        """Rows left 'running' by a batch that was killed: they are pending again."""
        return self.db.execute("UPDATE recordings SET state = 'pending' "
                               "WHERE state = 'running'").rowcount

    def start_batch(self, archive: Path, chash: str, settings: BatchSettings) -> int:
        cur = self.db.execute(
            "INSERT INTO batches (started_at, argv, archive, config_hash, executor, jobs, status)"
            " VALUES (?, ?, ?, ?, ?, ?, 'running')",
            # The opt-out list names people: the record keeps the command without it.
            (time.time(), json.dumps(redact_argv(sys.argv)), str(archive), chash,
             settings.executor, settings.jobs))
        return int(cur.lastrowid)

    def finish_batch(self, batch_id: int, summary: "BatchSummary", status: str) -> None:
        import resource

        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self.db.execute("UPDATE batches SET finished_at = ?, found = ?, skipped = ?, done = ?, "
                        "failed = ?, status = ?, peak_rss_mb = ? WHERE id = ?",
                        (time.time(), summary.found, len(summary.skipped), len(summary.done),
                         len(summary.failed), status, round(rss, 1), batch_id))


@contextlib.contextmanager
def _exclusive(outdir: Path) -> Iterator[None]:
    """One batch at a time per OUTDIR (a second one would redo the first one's work)."""
    import fcntl

    fh = open(outdir / LOCK_FILE, "a+")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(f"{outdir}: another `lecturelens batch` is running on this "
                             "folder; wait for it or give another -o folder") from None
        yield
    finally:
        fh.close()


# --------------------------------------------------------------------------- workers

def worker_threads(config: AnalyzeConfig, parallel: int) -> int:
    """Torch threads per job: the config's, else the cores shared out between the jobs."""
    if config.threads > 0:
        return config.threads
    return max(1, (os.cpu_count() or 1) // max(1, parallel))


def _threads_here() -> int:
    """Cores of this machine shared out between the tasks a Dask worker runs at once."""
    try:
        from distributed import get_worker

        nthreads = get_worker().state.nthreads
    except (ImportError, ValueError, AttributeError):
        nthreads = 1
    return max(1, (os.cpu_count() or 1) // max(1, nthreads))


def analyze_one(key: str, video: str, staging: str, name: str, config: dict,
                threads: int) -> Outcome:
    """Analyse one recording into ``staging/<name>/`` (runs in a worker process).

    Args:
        key: the recording's key in the run record.
        video: its path.
        staging: folder that receives the report folder ``name``.
        name: report folder name.
        config: :meth:`AnalyzeConfig.to_dict` of the batch.
        threads: torch threads; 0 shares this machine's cores between the worker's tasks.

    Returns:
        The outcome; a bad recording never raises, its outcome says why it failed.
    """
    threads = threads or _threads_here()
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    import resource

    worker = f"{socket.gethostname()}:{os.getpid()}"
    try:
        cfg = AnalyzeConfig(**config).replace(threads=threads)
        # One opt-out list serves the whole course: a student absent from this lecture
        # matches nobody in it, which is no error here.
        record = analyze(video, staging, config=cfg, progress=False, name=name,
                         strict_exclude=False)
        out = Outcome(key, True, record=record, worker=worker)
    except InputError as exc:
        # The run record and the summary name the recording already.
        reason = str(exc).removeprefix(f"{video}: ")
        out = Outcome(key, False, reason=reason, input_error=True, worker=worker)
    except LectureLensError as exc:
        out = Outcome(key, False, reason=str(exc), worker=worker)
    except OSError as exc:
        out = Outcome(key, False, reason=str(output_error(exc)), worker=worker)
    except Exception as exc:  # noqa: BLE001 - one recording's bug must not stop the batch
        out = Outcome(key, False, reason=f"internal error: {type(exc).__name__}: {exc}",
                      worker=worker)
    out.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _child(conn, parent: int, args) -> None:
    """Entry point of a local worker process (``parent``: the batch's pid)."""
    # A killed batch must not leave orphans writing into its staging.
    die_with_parent(parent)
    conn.send(analyze_one(*args))
    conn.close()


class LocalExecutor:
    """Runs up to ``jobs`` recordings at once, each in a fresh process.

    A fresh process per recording keeps memory flat over a long batch and isolates crashes.
    """

    def __init__(self, jobs: int):
        import multiprocessing as mp

        self.jobs = jobs
        self.ctx = mp.get_context("spawn")
        self.running: dict = {}  # sentinel -> (process, conn, key)

    def slots(self) -> int:
        return self.jobs - len(self.running)

    def submit(self, key: str, args: tuple) -> str:
        recv, send = self.ctx.Pipe(duplex=False)
        p = self.ctx.Process(target=_child, args=(send, os.getpid(), args), daemon=True,
                             name=f"lecturelens-{key}")
        p.start()
        send.close()
        self.running[p.sentinel] = (p, recv, key)
        return f"{socket.gethostname()}:{p.pid}"

    def wait(self) -> list[Outcome]:
        from multiprocessing.connection import wait

        if not self.running:
            return []
        ready = wait(list(self.running))
        outs = []
        for s in ready:
            p, conn, key = self.running.pop(s)
            out = None
            with contextlib.suppress(EOFError, OSError):
                if conn.poll():
                    out = conn.recv()
            p.join()
            conn.close()
            if out is None:
                code = p.exitcode
                how = (f"killed by signal {-code}" if code is not None and code < 0
                       else f"exit code {code}")
                out = Outcome(key, False, reason=f"worker process died ({how}; out of "
                              "memory?) while analysing this recording",
                              worker=f"{socket.gethostname()}:{p.pid}")
            outs.append(out)
        return outs

    def shutdown(self) -> None:
        for p, conn, _ in self.running.values():
            p.kill()
            p.join()
            conn.close()
        self.running.clear()


class DaskExecutor:
    """Runs recordings as tasks on a Dask distributed cluster.

    The run record stays here, on the client; the workers need the same LectureLens installed
    and must see the recordings and OUTDIR at the same paths (a shared filesystem).
    """

    def __init__(self, scheduler: str):
        try:
            from distributed import Client
        except ImportError:
            raise ConfigError("--executor dask needs Dask: pip install 'distributed'") from None
        try:
            self.client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {scheduler} ({exc}); start "
                              "it with `dask scheduler` and give the address it prints") from None
        nthreads = sum(self.client.nthreads().values()) or 1
        self.capacity = nthreads
        self.running: dict = {}

    def slots(self) -> int:
        # Keep one task queued per worker thread: the scheduler balances, we stay responsive.
        return 2 * self.capacity - len(self.running)

    def submit(self, key: str, args: tuple) -> str:
        fut = self.client.submit(analyze_one, *args, pure=False,
                                 key=f"lecturelens-{_slot(key)}-{time.time_ns()}")
        self.running[fut] = key
        return "dask"

    def wait(self) -> list[Outcome]:
        from distributed import wait

        if not self.running:
            return []
        done = wait(list(self.running), return_when="FIRST_COMPLETED").done
        outs = []
        for fut in done:
            key = self.running.pop(fut)
            try:
                outs.append(fut.result())
            except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker: fail this one only
                outs.append(Outcome(key, False, reason=f"Dask task failed: "
                                                       f"{type(exc).__name__}: {exc}"))
        return outs

    def shutdown(self) -> None:
        for fut in self.running:
            fut.cancel()
        self.running.clear()
        self.client.close()


# --------------------------------------------------------------------------- the batch

@dataclass
class BatchSummary:
    """What a batch did."""

    outdir: Path
    found: int = 0
    done: list[str] = dataclasses.field(default_factory=list)
    failed: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    skipped: list[str] = dataclasses.field(default_factory=list)
    course: dict = dataclasses.field(default_factory=dict)
    wall_seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        """0 when every recording is done, 4 when some failed."""
        return 4 if self.failed else 0


def _place(staging_dir: Path, final: Path, trash: Path) -> None:
    """Swap a finished report into place: the old one (if any) goes, the new one comes."""
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        os.replace(final, trash)
    os.replace(staging_dir, final)
    shutil.rmtree(trash, ignore_errors=True)


def _recover_staging(outdir: Path, record: RunRecord) -> None:
    """Clean up after a killed batch: half-made reports go; a report that was being swapped
    into place when the batch died goes back where it was."""
    staging = outdir / STAGING_DIR
    if not staging.is_dir():
        return
    for row in record.rows():
        old = staging / (_slot(row["key"]) + ".old")
        final = outdir / row["report"]
        if old.is_dir() and not final.exists():
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(old, final)
    shutil.rmtree(staging, ignore_errors=True)


def _slot(key: str) -> str:
    return hashlib.sha1(key.encode()).hexdigest()[:16]


def _fmt_line(state: str, key: str, detail: str) -> str:
    return f"{state:<7} {key}: {detail}"


def run_batch(archive: str | Path, outdir: str | Path, config: AnalyzeConfig | None = None,
              settings: BatchSettings | None = None, progress: bool = True,
              echo: Callable[[str], None] | None = None) -> BatchSummary:
    """Analyse every recording of ``archive`` into ``OUTDIR/<relative path>/``.

    Args:
        archive: folder searched recursively for recordings.
        outdir: where the reports, the run record and ``course/`` go.
        config: analysis settings for every recording.
        settings: how the batch runs (jobs, executor, pattern, force ...).
        progress: overall progress bar on stderr.
        echo: called with one line per finished recording (default: print to stderr).

    Returns:
        The summary; ``exit_code`` is non-zero when some recordings failed.

    Raises:
        InputError: the archive is not a folder, or another batch holds OUTDIR.
        ConfigError: bad settings, or an unreachable Dask scheduler.
    """
    config = (config or AnalyzeConfig()).validate()
    settings = (settings or BatchSettings()).validate()
    archive, outdir = Path(archive).resolve(), Path(outdir).resolve()
    if config.roster:
        read_roster(config.roster)  # a bad roster stops the batch before any work
    recs = scan(archive, outdir, settings.pattern)
    outdir.mkdir(parents=True, exist_ok=True)
    if echo is None:
        def echo(line: str) -> None:
            from tqdm import tqdm

            tqdm.write(line, file=sys.stderr)  # above the progress bar, not through it
    started = time.time()
    summary = BatchSummary(outdir=outdir, found=len(recs))
    with _exclusive(outdir):
        record = RunRecord(outdir / RECORD_FILE)
        try:
            _run(record, recs, archive, outdir, config, settings, summary, progress, echo)
        finally:
            record.close()
        if settings.course and summary.found:
            summary.course = build_course(outdir)
    summary.wall_seconds = time.time() - started
    return summary


def _run(record: RunRecord, recs: list[Recording], archive: Path, outdir: Path,
         config: AnalyzeConfig, settings: BatchSettings, summary: BatchSummary,
         progress: bool, echo: Callable[[str], None]) -> None:
    from tqdm import tqdm

    record.reset_running()
    _recover_staging(outdir, record)
    chash = config_hash(config)
    todo: list[Recording] = []
    for rec in recs:
        row = record.get(rec.key)
        unchanged = (row is not None and row["fingerprint"] == rec.fingerprint
                     and row["config_hash"] == chash and row["report"] == rec.report)
        if unchanged and not settings.force and row["state"] == "done" \
                and (outdir / rec.report / reportfiles.RUN).is_file():
            summary.skipped.append(rec.key)
            continue
        if unchanged and row["state"] == "failed" and row["input_error"] \
                and not (settings.force or settings.retry_failed):
            # The same bad file fails the same way; do not spend a worker on it again.
            summary.skipped.append(rec.key)
            summary.failed.append((rec.key, row["reason"]))
            continue
        record.upsert_pending(rec, chash)
        todo.append(rec)
    batch_id = record.start_batch(archive, chash, settings)
    if summary.skipped:
        echo(f"{len(summary.skipped)} of {len(recs)} recordings unchanged since the last batch "
             "(--force redoes them)")
    executor = None
    status = "interrupted"
    bar = tqdm(total=len(todo), unit="rec", desc="batch", disable=not progress or not todo,
               dynamic_ncols=True)
    try:
        if settings.executor == "dask":
            executor = DaskExecutor(settings.scheduler)
            # Each Dask worker shares out its own machine's cores (see analyze_one).
            threads = config.threads
        else:
            executor = LocalExecutor(settings.jobs)
            threads = worker_threads(config, settings.jobs)
        staging = outdir / STAGING_DIR
        base = config.to_dict()
        queue = list(todo)
        by_key = {r.key: r for r in todo}

        def submit(rec: Recording) -> None:
            slot = staging / _slot(rec.key)
            shutil.rmtree(slot, ignore_errors=True)
            slot.mkdir(parents=True)
            args = (rec.key, str(rec.path), str(slot), Path(rec.report).name, base, threads)
            record.mark_running(rec.key, executor.submit(rec.key, args))

        while queue or executor.running:
            while queue and executor.slots() > 0:
                submit(queue.pop(0))
            for out in executor.wait():
                rec = by_key[out.key]
                slot = staging / _slot(rec.key)
                if out.ok:
                    _place(slot / Path(rec.report).name, outdir / rec.report,
                           staging / (_slot(rec.key) + ".old"))
                    record.mark_done(out)
                    summary.done.append(rec.key)
                    r = out.record
                    line = _fmt_line("done", rec.key, (
                        f"{r.get('input', {}).get('duration', 0):.0f} s of video in "
                        f"{r.get('wall_seconds', 0):.1f} s ({r.get('x_real_time')}x), "
                        f"{r.get('students', 0)} students -> {rec.report}/"))
                else:
                    record.mark_failed(out)
                    summary.failed.append((rec.key, out.reason))
                    line = _fmt_line("failed", rec.key, out.reason)
                shutil.rmtree(slot, ignore_errors=True)
                bar.update(1)
                bar.set_postfix(done=len(summary.done), failed=len(summary.failed))
                echo(line)
        status = "ok" if not summary.failed else "some failed"
    finally:
        bar.close()
        if executor is not None:
            executor.shutdown()
        if status == "interrupted":
            # Rows of recordings in flight go back to pending for the next run.
            record.reset_running()
        record.finish_batch(batch_id, summary, status)
        shutil.rmtree(outdir / STAGING_DIR, ignore_errors=True)


def read_record(outdir: str | Path) -> list[dict]:
    """The rows of ``OUTDIR/batch.sqlite`` as dicts (for status views and tests).

    Raises:
        InputError: no run record in ``outdir``.
    """
    path = Path(outdir) / RECORD_FILE
    if not path.is_file():
        raise InputError(f"{path}: no run record; run `lecturelens batch ARCHIVE -o "
                         f"{outdir}` first")
    rec = RunRecord(path)
    try:
        return [dict(r) for r in rec.rows()]
    finally:
        rec.close()


def batch_status(outdir: str | Path) -> list[dict]:
    """The run record as ``batch-status`` shows it: a recording left ``running`` by a batch
    that is no longer alive (killed: no process holds the batch lock, or its worker's pid is
    gone) is ``interrupted``; the next batch redoes it.

    Raises:
        InputError: no run record in ``outdir``.
    """
    rows = read_record(outdir)
    if not any(r["state"] == "running" for r in rows):
        return rows
    alive = _batch_alive(Path(outdir))
    host = socket.gethostname()
    for r in rows:
        if r["state"] != "running":
            continue
        whost, _, pid = (r["worker"] or "").rpartition(":")
        dead_worker = whost == host and pid.isdigit() and not _pid_alive(int(pid))
        if not alive or dead_worker:
            r["state"] = "interrupted"
            r["reason"] = ("the batch was stopped while analysing it; run the batch again "
                           "to finish it")
    return rows


def _batch_alive(outdir: Path) -> bool:
    """Whether a batch holds OUTDIR's lock (it is released when its process dies)."""
    import fcntl

    path = outdir / LOCK_FILE
    if not path.is_file():
        return False
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
    return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def build_course(outdir: str | Path) -> dict:
    """``OUTDIR/course/``: students matched across the batch's finished recordings (in
    file-name order), their trends over the term, and an index linking every report.

    Returns:
        Counts (lectures, students) and the index path; empty when nothing is done yet.
    """
    outdir = Path(outdir)
    rows = read_record(outdir)
    lectures, info = [], {}
    for r in rows:
        if r["state"] == "done" and (outdir / r["report"] / reportfiles.STUDENTS).is_file():
            lec = load_lecture(outdir / r["report"])
            lec.name = r["report"]  # unique in the batch, unlike the folder's last part
            lectures.append(lec)
            info[lec.name] = {"video_seconds": r["video_seconds"]}
    if not lectures:
        return {}
    course = match_lectures(lectures)
    failed = [(r["key"], r["reason"] or "") for r in rows if r["state"] == "failed"]
    return write_course_view(outdir / COURSE_DIR, lectures, course, failed, info)
