"""Wire the stages together for one recording. Each stage lives in its own module."""

from __future__ import annotations

import datetime as _dt
import math
import platform
import sys
import time
from collections import deque
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from lecturelens import __version__, optout, reportfiles
from lecturelens.atomic import atomic_csv
from lecturelens.config import AnalyzeConfig
from lecturelens.detect import Face, FaceDetector, FaceFollower, create_face_detector
from lecturelens.emotion import create_emotion_model
from lecturelens.emotion.align import crop_faces
from lecturelens.emotion.worker import MAX_IN_FLIGHT, EmotionWorker, can_use_worker
from lecturelens.errors import ConfigError
from lecturelens.identity import TrackEmbedder, create_identity_model
from lecturelens.ingest import Frame, VideoInfo, iter_frames, prefetch, probe
from lecturelens.names import NameReader, NameStage
from lecturelens.optout import Exclusions, drop_students, embed_photos, redact_argv, scrub
from lecturelens.people import (CameraOffLog, NameVotes, PeopleClusterer, TrackSummary,
                                build_students, read_roster, snap_to_roster)
from lecturelens.report import ReportSettings, build_reports
from lecturelens.reportdir import FolderLock, clear_derived, make_folder, step, sweep_temps
from lecturelens.reportfiles import FeatureWriter, format_intervals, write_run, write_students
from lecturelens.rubric import FOLLOW_UP_SECONDS
from lecturelens.signals import create_eye_model, head_pose
from lecturelens.track import HiddenWatch, Tracker, appearance_signature


class Timings:
    """Wall-clock seconds spent per stage."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0

    def timed_iter(self, name: str, it: Iterable) -> Iterator:
        """Yield from ``it``, charging the time spent producing each item to ``name``."""
        it = iter(it)
        while True:
            with self.stage(name):
                try:
                    item = next(it)
                except StopIteration:
                    return
            yield item

    def rounded(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in self.seconds.items()}


def versions() -> dict[str, str]:
    """Versions of Python and the libraries whose behaviour shapes the results."""
    from importlib import metadata

    out = {"lecturelens": __version__, "python": platform.python_version()}
    for dist in ("torch", "torchvision", "facenet-pytorch", "opencv-python-headless",
                 "opencv-python", "numpy", "imageio-ffmpeg"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def _observation_row(frame: Frame, track_id: int, face: Face, probs=None, classes=(),
                     ear: float | tuple | None = None) -> list:
    yaw, pitch = head_pose(face.landmarks)
    # (EAR, EAR half a second later where the eyes looked closed) from the eye stage
    ear, ear_next = ear if isinstance(ear, tuple) else (ear, None)
    row = ([f"{frame.t:.3f}", frame.index, track_id, ""]
           + [f"{v:.1f}" for v in face.box]
           + [f"{v:.1f}" for v in face.landmarks.reshape(-1)]
           + [f"{face.prob:.4f}", face.quality, f"{yaw:.1f}", f"{pitch:.1f}",
              "" if ear is None else f"{ear:.3f}",
              "" if ear_next is None else f"{ear_next:.3f}"])
    if probs is not None:
        row += [classes[int(np.argmax(probs))]] + [f"{p:.4f}" for p in probs]
    return row


class _FrameRef:
    """What an observation row needs of a frame (a waiting frame keeps no pixels)."""

    __slots__ = ("t", "index")

    def __init__(self, t: float, index: int):
        self.t, self.index = t, index


def report_dir(video: str | Path, outdir: str | Path, name: str | None = None) -> Path:
    """Where the reports of ``video`` go: ``OUTDIR/<name or video stem>/``."""
    return Path(outdir) / (name or Path(video).stem)


def analyze(video: str | Path, outdir: str | Path, config: AnalyzeConfig | None = None,
            progress: bool = True, name: str | None = None,
            strict_exclude: bool = True) -> dict:
    """Analyse one recording and write its reports into ``OUTDIR/<video stem>/``.

    Writes ``observations.csv`` (one row per face per sampled frame), ``tracks.csv`` (one row
    per face track) and ``run.json`` (inputs, config, versions, models, timings, status).
    Every file is written atomically; on failure ``run.json`` records ``status: failed``
    and the error, and no new observations/tracks file appears.

    Args:
        video: the recording.
        outdir: parent folder of the per-recording report folder.
        config: settings; defaults when ``None``.
        progress: show a progress bar on stderr.
        name: report folder name (default: the video's stem; batches give two recordings
            with one stem distinct names).
        strict_exclude: an exclusion that matches no student is an error (a batch passes
            ``False``: a student may be absent from one of its lectures).

    Returns:
        The run record (the content of ``run.json``).

    Raises:
        InputError: the file is not a usable video (nothing is written in that case) or
            turns out to be truncated while decoding (``run.json`` says failed).
        ExclusionError: an exclusion matches no student (no output is written).
        OutputError: the report folder cannot be written (one line with the fix).
        FolderBusyError: another run is writing the same report folder.
    """
    config = (config or AnalyzeConfig()).validate()
    started = time.time()
    timings = Timings()
    with timings.stage("probe"):
        info = probe(video)
    roster = None
    roster_warnings: list[str] = []
    if config.roster:
        # A bad roster, like a bad video, stops the run before anything is written.
        import warnings

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            roster = read_roster(config.roster)
        for w in caught:
            print(f"lecturelens: warning: {w.message}", file=sys.stderr)
            roster_warnings.append(str(w.message))
    exclusions = Exclusions.from_config(config)
    exclusions.check_photos()
    if exclusions.faces and config.identity_model.lower() == "none":
        raise ConfigError("--exclude-face needs face identity; drop --identity-model none")
    dest = report_dir(video, outdir, name)
    lock = _open_folder(dest, exclusions)
    hidden: list[str] = list(exclusions.names) + list(exclusions.faces)
    record = {
        "status": "running",
        "input": {"path": str(Path(video).resolve()), **{k: v for k, v in info.to_dict().items()
                                                         if k != "path"}},
        "config": config.to_dict(),
        "versions": versions(),
        "started": _dt.datetime.fromtimestamp(started, _dt.timezone.utc).isoformat(),
        "command": sys.argv[:],
    }
    if roster_warnings:
        record["warnings"] = roster_warnings
    emotion = None
    threads_before = 0

    def release_worker() -> None:
        """Stop the emotion worker and give torch its threads back (idempotent)."""
        nonlocal threads_before
        if hasattr(emotion, "close"):
            emotion.close()
            record.setdefault("emotion_worker_peak_rss_mb", emotion.peak_rss_mb)
        if threads_before:
            import torch

            torch.set_num_threads(threads_before)
            threads_before = 0

    try:
        with timings.stage("load_models"):
            if config.emotion_model.lower() != "none":
                if config.emotion_worker and can_use_worker():
                    # Started first: it loads its model while this process loads the others.
                    emotion = EmotionWorker(config.emotion_model,
                                            weights=config.emotion_weights or None,
                                            threads=config.threads,
                                            precision=config.emotion_precision)
                    if config.threads == 0:
                        # MTCNN's O-Net batches are faster on one thread than on two
                        # (measured: 3.0 s against 4.7 s over 60 frames), and the second
                        # core is the worker's.
                        import torch

                        threads_before = torch.get_num_threads()
                        torch.set_num_threads(1)
                else:
                    emotion = create_emotion_model(config.emotion_model,
                                                   weights=config.emotion_weights or None,
                                                   threads=config.threads,
                                                   precision=config.emotion_precision)
            detector = create_face_detector(config)
            identity = None
            if config.identity_model.lower() != "none":
                identity = create_identity_model(config.identity_model,
                                                 weights=config.identity_weights or None,
                                                 threads=config.threads)
            eyes = create_eye_model(config.eye_model)
            reader = None
            if config.ocr_lang.lower() != "none":
                reader = NameReader(lang=config.ocr_lang, engine=config.ocr_engine,
                                    roster=roster)
                for warning in reader.warnings:
                    print(f"lecturelens: warning: {warning}", file=sys.stderr)
                    record.setdefault("warnings", []).append(warning)
            if hasattr(emotion, "wait_ready"):
                emotion.wait_ready()  # its load errors are reported like the others'
        record["models"] = [{"name": detector.model_name, "task": "face-detection",
                             "files": detector.weights}]
        if identity is not None:
            record["models"].append({"name": identity.name, "task": "face-identity",
                                     "embedding_dim": identity.dim, "files": identity.weights})
        if reader is not None:
            record["models"].append({"name": reader.engine, "task": "name-ocr",
                                     "tesseract_version": reader.version, "lang": reader.lang,
                                     "files": reader.pp.weights if reader.pp else []})
        if eyes is not None:
            record["models"].append({"name": eyes.name, "task": "face-landmarks",
                                     "files": eyes.weights})
        if emotion is not None:
            record["models"].append({"name": emotion.name, "task": "emotion",
                                     "classes": list(emotion.classes),
                                     "feature_dim": emotion.feature_dim,
                                     "precision": emotion.precision,
                                     "files": emotion.weights,
                                     "process": ("worker" if hasattr(emotion, "submit")
                                                 else "main")})
        photos = None
        if exclusions.faces:
            photos = embed_photos(exclusions.faces, identity, detector)

        def commit(excluded_names=()) -> None:
            """Called just before the first output file: from here on the previous report
            must not look complete (report.html goes first) and run.json says running."""
            hidden.extend(excluded_names)  # every spelling the opt-out matched
            clear_derived(dest)
            write_run(dest, _redacted(record, config, hidden))
            step("analyze commit")

        summary = _detect_and_track(info, dest, config, detector, emotion, identity, reader,
                                    eyes, roster, timings, progress, exclusions=exclusions,
                                    photos=photos, strict_exclude=strict_exclude,
                                    on_commit=commit)
        hidden += summary.pop("_excluded_names", [])
        record.update(summary)
        # The worker's work is done: its memory, core and threads go to the report stage
        # (GIF face checks run MTCNN).
        release_worker()
        with timings.stage("report"):
            # run.json must exist for the report stage; it is rewritten below.
            write_run(dest, _redacted(record, config, hidden))
            def ready(rep: dict) -> None:
                # run.json says ok before report.html appears, so that a report.html always
                # belongs to a finished run.
                done = {**record, "status": "ok",
                        "reports": {k: v for k, v in rep.items() if k != "report_outputs"},
                        "outputs": record["outputs"] + rep["report_outputs"]}
                write_run(dest, _redacted(done, config, hidden))

            record["reports"] = build_reports(dest, ReportSettings.from_config(config),
                                              video=video,
                                              detector=detector, progress=progress,
                                              on_ready=ready)
        record["outputs"] = record["outputs"] + record["reports"].pop("report_outputs")
        record["status"] = "ok"
    except BaseException as exc:
        record["status"] = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        # An exclusion error names the student it could not find: run.json gets it without.
        record["error"] = (getattr(exc, "redacted", None)
                           or f"{type(exc).__name__}: {exc}")
        raise
    finally:
        release_worker()
        record["timings"] = timings.rounded()
        record["wall_seconds"] = round(time.time() - started, 3)
        # Share of the wall time per stage: e.g. how much name OCR costs (it must stay small).
        record["timing_shares"] = {k: round(v / record["wall_seconds"], 3)
                                   for k, v in timings.seconds.items()
                                   if record["wall_seconds"] > 0}
        record["x_real_time"] = (round(info.duration / record["wall_seconds"], 2)
                                 if record["wall_seconds"] > 0 else None)
        try:
            write_run(dest, _redacted(record, config, hidden))
        except OSError:
            if record["status"] == "ok":
                raise
            # (the error that stopped the run is the one to report, e.g. a read-only folder)
        finally:
            lock.release()
    return _redacted(record, config, hidden)


def _open_folder(dest: Path, exclusions: Exclusions):
    """Create and lock the report folder; clean up after killed runs.

    Sweeps their temporary files, finishes an opt-out one of them left half done, and, when
    this run excludes students, removes them from the previous report at once (its derived
    outputs go too), so that no report made before the opt-out shows them while this run
    analyses the recording.

    Returns:
        The held :class:`~lecturelens.reportdir.FolderLock`.
    """
    lock = FolderLock(make_folder(dest), "analyze").acquire()
    try:
        sweep_temps(dest)
        optout.recover(dest)
        if exclusions and all((dest / name).is_file()
                              for name in (reportfiles.STUDENTS, reportfiles.RUN)):
            try:
                optout.remove_students(dest, exclusions, strict=False)
            except optout.ExclusionError:
                # A previous report without identity embeddings: its faces cannot be
                # matched, its names can.
                optout.remove_students(dest, Exclusions(exclusions.names), strict=False)
    except BaseException:
        lock.release()
        raise
    return lock


def _redacted(record: dict, config: AnalyzeConfig, names=()) -> dict:
    """The run record without the names (and photo paths) of students who opted out.

    Args:
        record: the run record.
        config: its settings (the opt-out lists become counts).
        names: every spelling to scrub (the lists themselves, the names they matched).
    """
    if not (config.exclude or config.exclude_faces):
        return record
    names = list(names) + list(config.exclude) + list(config.exclude_faces)
    out = scrub(record, names)
    out["config"] = {**record["config"], "exclude": f"({len(config.exclude)} names)",
                     "exclude_faces": f"({len(config.exclude_faces)} photos)"}
    out["command"] = redact_argv(record.get("command", []), names)
    return out


def _detect_and_track(info: VideoInfo, dest: Path, config: AnalyzeConfig,
                      detector: FaceDetector, emotion, identity, reader, eyes, roster,
                      timings: Timings, progress: bool, exclusions: Exclusions = Exclusions(),
                      photos=None, strict_exclude: bool = True, on_commit=None) -> dict:
    import csv
    import tempfile

    from tqdm import tqdm

    classes = emotion.classes if emotion is not None else ()
    worker = hasattr(emotion, "submit")
    features = None  # made inside the try below, so that its temporary file never outlives it
    tracker = Tracker(iou_threshold=config.track_iou, max_gap=config.track_max_gap,
                      max_appearance_change=config.track_max_appearance_change)
    # Faces that vanish while their tile still shows them: looked away, not gone.
    hidden = HiddenWatch()
    embedder = None
    if identity is not None:
        embedder = TrackEmbedder(identity)
    names = None
    if reader is not None:
        names = NameStage(reader, interval=config.ocr_interval, min_reads=config.ocr_min_reads,
                          budget=config.ocr_budget)
    expected = max(1, math.ceil(info.duration * config.fps))
    n_frames = n_faces = 0
    last_t = 0.0
    # With an eye model, each frame brings a second look half a second later (blinks).
    frames = timings.timed_iter("decode", prefetch(iter_frames(
        info, fps=config.fps, follow=FOLLOW_UP_SECONDS if eyes is not None else 0.0)))
    follow = FaceFollower(detector, config.detect_interval)
    # Student ids are known only once every track is seen: rows go to a hidden file first and
    # into observations.csv (atomically) at the end. Its name is unique to this run.
    fd, tmp_name = tempfile.mkstemp(prefix=".observations.", suffix=".rows.tmp", dir=dest)
    rows_tmp = Path(tmp_name)
    dropped = None
    try:
        if emotion is not None:
            features = FeatureWriter(dest)
        with open(fd, "w", newline="", encoding="utf-8") as raw, \
                tqdm(total=expected, unit="frame", desc=Path(info.path).name,
                     disable=not progress, file=sys.stderr, leave=False) as bar:
            obs = csv.writer(raw)
            # Frames whose emotions are still being computed by the worker process, oldest
            # first: their rows are written when the results come back, in frame order.
            waiting: deque = deque()

            def write_rows(frame, ids, faces, fprobs, ears) -> None:
                with timings.stage("write"):
                    for k, (tid, face) in enumerate(zip(ids, faces)):
                        obs.writerow(_observation_row(
                            frame, tid, face, None if fprobs is None else fprobs[k],
                            classes, ears[k]))

            def collect(keep: int) -> None:
                """Write the rows of waiting frames: every one whose emotions are done, and
                older ones until at most ``keep`` wait."""
                while waiting and (len(waiting) > keep or not waiting[0][4]
                                   or emotion.ready()):
                    frame, ids, faces, ears, queued = waiting.popleft()
                    fprobs = None
                    if queued:
                        with timings.stage("emotion_wait"):
                            fprobs, feats = emotion.result()
                        features.write(feats)
                    write_rows(frame, ids, faces, fprobs, ears)

            for frame in frames:
                with timings.stage("detect"):
                    faces = follow.faces(frame)
                fprobs = None
                queued = False
                if emotion is not None and faces:
                    with timings.stage("emotion"):
                        crops = crop_faces(frame.rgb, faces, emotion.input_size)
                        if worker:
                            emotion.submit(crops, batch_size=config.batch_size)
                            queued = True
                        else:
                            fprobs, feats = emotion.predict(crops, batch_size=config.batch_size)
                            features.write(feats)
                with timings.stage("track"):
                    for face in faces:
                        face.signature = appearance_signature(frame.rgb, face.box)
                    before = tracker.next_id
                    ids = tracker.update(frame.t, faces)
                    hidden.update(frame.t, frame.rgb, tracker, faces, ids)
                if names is not None:
                    # Before identity: a label that contradicts its track splits it.
                    with timings.stage("ocr"):
                        names.update(frame.t, frame.rgb, faces, ids,
                                     new_track=tracker.next_id != before, tracker=tracker,
                                     changed=follow.changed)
                if embedder is not None:
                    with timings.stage("identity"):
                        embedder.update(frame.rgb, faces, ids,
                                        named=names.named if names is not None else None)
                ears = [None] * len(faces)
                if eyes is not None:
                    with timings.stage("eyes"):
                        ears = eyes.ear_pairs(frame, faces)
                if queued or waiting:
                    # Frames without faces queue too, so that rows stay in frame order.
                    waiting.append((_FrameRef(frame.t, frame.index), ids, faces, ears, queued))
                    collect(MAX_IN_FLIGHT)
                else:
                    write_rows(frame, ids, faces, fprobs, ears)
                n_faces += len(faces)
                last_t = frame.t
                n_frames += 1
                bar.update(1)
            collect(0)
            if worker:
                # Computed beside the stages above, so not part of the wall time they add
                # up to; "emotion" is this process' share (crops) and "emotion_wait" the time
                # it waited for the worker.
                timings.seconds["emotion_worker"] = emotion.busy_seconds
        with timings.stage("people"):
            students, track_student, track_names, absent = _people(
                tracker, embedder, names, identity, roster, config,
                t_end=max(last_t + 1.0 / config.fps, info.duration or 0.0))
            if exclusions:
                # Opted-out students leave here, before the first output file is written.
                dropped = drop_students(
                    exclusions, students, roster, absent, photos,
                    identity.same_person_distance if identity is not None else 0.6,
                    strict=strict_exclude, where=str(info.path))
                students, roster, absent = dropped.students, dropped.roster, dropped.absent
        if on_commit is not None:
            on_commit(sorted(dropped.names) if dropped is not None else ())
        gone = dropped.tracks if dropped is not None else set()
        with timings.stage("write"):
            keep = bytearray()
            with atomic_csv(dest / reportfiles.OBSERVATIONS,
                            reportfiles.observation_columns(classes)) as w, \
                    open(rows_tmp, newline="", encoding="utf-8") as fh:
                for row in csv.reader(fh):
                    tid = int(row[2])
                    keep.append(tid not in gone)
                    if tid not in gone:
                        row[3] = track_student.get(tid, "")
                        w.writerow(row)
            step("analyze observations")
            if features is not None:
                features.commit(emotion.feature_dim, bytes(keep) if gone else None)
    finally:
        rows_tmp.unlink(missing_ok=True)
        if features is not None:
            features.discard()
    tracks = [tr for tr in tracker.tracks() if tr.track_id not in gone]
    with timings.stage("write"):
        with atomic_csv(dest / reportfiles.TRACKS, reportfiles.TRACK_COLUMNS) as w:
            for tr in tracks:
                mb = tr.mean_box
                w.writerow([tr.track_id, track_student.get(tr.track_id, ""),
                            track_names.get(tr.track_id, ""),
                            f"{tr.first_seen:.3f}", f"{tr.last_seen:.3f}",
                            f"{tr.n_frames / config.fps:.1f}", tr.n_frames]
                           + [f"{v:.1f}" for v in mb] + [f"{tr.mean_prob:.4f}", tr.n_small,
                              format_intervals(hidden.intervals(tr.track_id, config.fps))])
        write_students(dest, students, identity.dim if identity is not None else 0)
        if roster is not None:
            with atomic_csv(dest / reportfiles.ROSTER, reportfiles.ROSTER_COLUMNS) as w:
                by_name = {s.name: s.student_id for s in students if s.on_roster == "yes"}
                for name in roster:
                    w.writerow([name, by_name.get(name, ""),
                                "absent" if name in absent else "present"])
    outputs = [reportfiles.OBSERVATIONS, reportfiles.TRACKS, reportfiles.STUDENTS,
               reportfiles.STUDENT_EMBEDDINGS, reportfiles.RUN]
    if roster is not None:
        outputs.insert(3, reportfiles.ROSTER)
    if emotion is not None:
        outputs.insert(1, reportfiles.EMOTION_FEATURES)
    summary = {"frames_sampled": n_frames, "faces_detected": n_faces, "tracks": len(tracks),
               "students": len(students),
               "students_named": sum(s.named for s in students),
               "outputs": outputs}
    summary["detection"] = follow.stats()
    if embedder is not None:
        summary["identity_embeddings"] = embedder.embedded
    if names is not None:
        summary["ocr_rounds"] = names.rounds
        summary["ocr_calls"] = names.reader.calls
        summary["ocr"] = names.stats()
    if roster is not None:
        summary["roster_absent"] = absent
        summary["not_on_roster"] = [s.name for s in students if s.on_roster == "no"]
    if dropped is not None:
        # The opt-out list itself names people: run.json keeps only how many.
        summary["excluded_students"] = dropped.people
        if dropped.unmatched:
            summary["exclusions_unmatched"] = dropped.unmatched
        summary["_excluded_names"] = sorted(dropped.names)  # scrubbed from run.json, not kept
    return summary


def _people(tracker: Tracker, embedder, names, identity, roster, config: AnalyzeConfig,
            t_end: float):
    """Students from the tracks, their embeddings and name readings."""
    embeddings = embedder.embeddings() if embedder is not None else {}
    votes = names.votes if names is not None else {}
    if names is not None:
        names.close(t_end)
    summaries = [TrackSummary(tr.track_id, tr.first_seen, tr.last_seen, tr.n_frames,
                              embeddings.get(tr.track_id), votes.get(tr.track_id, NameVotes()))
                 for tr in tracker.tracks()]
    clusterer = PeopleClusterer(
        same_person_distance=identity.same_person_distance if identity is not None else 0.6)
    groups = clusterer.cluster(summaries)
    students = build_students(groups, names.camera_off if names is not None else CameraOffLog(),
                              fps=config.fps)
    absent = snap_to_roster(students, roster) if roster is not None else []
    track_student = {tid: s.student_id for s in students for tid in s.tracks}
    track_names = {t.track_id: t.votes.best()[0] for t in summaries}
    return students, track_student, track_names, absent
