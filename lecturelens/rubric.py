"""The engagement rubric: what each of the four levels means, in things a camera sees.

Engagement datasets label short clips (DAiSEE: 10 s, four levels from very low to very high,
Gupta et al. 2016, arXiv:1609.01885; EngageWild: the seed paper's 0, 0.33, 0.66, 1, Kaur et
al. 2018, DICTA) with verbal anchors that are mostly about where the student looks and
whether the eyes are open. Whitehill et al. (2014, "The Faces of Engagement", IEEE Trans.
Affective Computing 5(1)) give the anchors plainly: *not engaged at all* (looking away from
the screen, eyes completely closed), *nominally engaged* (eyes barely open, not "into" the
task), *engaged* (needs no admonition to stay on task) and *very engaged* (could be
commended). LectureLens turns those anchors into shares of a window's time, measured on each
sampled frame:

* **attending**: the head points at the screen (within :data:`ON_SCREEN_YAW` sideways,
  :data:`HEAD_DOWN_PITCH` down and :data:`HEAD_UP_PITCH` up, around the student's own usual
  direction) and the eyes are open;
* **eyes_closed**: on screen, eyes closed for longer than a blink;
* **head_down**: the head tipped down past the cone (desk, phone, notes);
* **looked_away**: the head turned aside or up past the cone, or the face vanished inside its
  tile while the tile kept showing the student's picture (:func:`vanished_times`; a person
  who left is ``absent``, not this).

The four shares add up to 1. The level (:func:`rubric_level`, table :data:`RUBRIC`):

=========  ==========================================================================
level      observable
=========  ==========================================================================
very high  attending at least 90 % of the window ("all the time")
high       attending at least 60 % ("most of the time")
low        attending 25-60 %: frequent looking away, head down or phone
very low   attending under 25 %, or eyes closed 3 s or more at a stretch (a microsleep)
=========  ==========================================================================

Why these numbers:

* Head cone. A monitor at desk distance spans about +-15-25 degrees, and gaze shifts up to
  about 20 degrees are made mostly with the eyes alone (the "eye-only range", Stahl 1999,
  Exp. Brain Res. 126): a student reading any part of the screen keeps the head within about
  30 degrees of it. Beyond, the gaze is off the screen. Vertically the five-point pitch
  carries a per-face offset (nose and mouth shapes differ: frontal faces of the shared clips
  and photos read -18 to +27 degrees), and a camera on top of the screen sees a head that
  reads the screen already tipped down, hence 30 degrees down and 25 up.
* Eyes. The eye aspect ratio (EAR, Soukupova and Cech 2016) of open eyes is about 0.3 and
  0.2 is their closed threshold; here each student's own open-eye EAR (their usual level
  over the lecture, shrunk towards 0.3 until there is half a minute of them) scales that
  threshold, so narrow eyes are not "closed". A blink lasts 0.1-0.4 s, so ``analyze``
  looks at closed-looking eyes again half a second later: still closed, it was no blink. A
  closed frame with no second look between open ones is taken for a blink; two or more in a
  row are a closure, and a run spanning 3 s or more (4 frames at 1 frame/s) is a
  microsleep, the 3-15 s eye closures of falling asleep.
* Shares. 90 % allows one glance or blink frame in an 8-10 s window; 60 % is "most of the
  time"; under a quarter is "rarely".

The continuous engagement (0-1) keeps ranking windows: it lies inside the band of its level
(so its nearest paper level is the rubric's level) and, within the band, rises with how
squarely and open-eyed the face attended (:func:`rubric_score`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Head turned further than this (degrees, sideways) from the student's usual direction:
#: not looking at the screen.
ON_SCREEN_YAW = 30.0
#: Head tipped down further than this (degrees): head down (desk, phone, notes).
HEAD_DOWN_PITCH = 30.0
#: Head tipped up further than this (degrees): looking up, leaning back.
HEAD_UP_PITCH = 25.0
#: A student's usual head direction is trusted up to this far from facing the camera (a
#: webcam beside the screen), and only in proportion to how much of them was seen.
MAX_HEAD_OFFSET = 10.0
#: Samples of prior weight for a student's usual head direction: with 120 samples of their
#: own (2 minutes at 1 frame/s) it is half theirs, so a few seconds of a student looking
#: away never make "away" their normal.
HEAD_PRIOR_SAMPLES = 120
#: The same for the open-eye EAR: eye shape shows in every frame with the eyes open, so 30
#: samples (half a minute) are enough to count as much as the typical face.
EAR_PRIOR_SAMPLES = 30
#: Open-eye EAR of a typical face (Soukupova and Cech 2016).
OPEN_EAR = 0.30
#: Eyes count as closed below this share of the student's open-eye EAR (0.2 at 0.3).
CLOSED_EAR_RATIO = 2.0 / 3.0
#: Eye closures at least this long (s) make the window "very low" (a microsleep).
MICROSLEEP_SECONDS = 3.0
#: The longest blink (s): a closure that cannot be longer than this is a blink.
BLINK_SECONDS = 0.4
#: ``analyze`` looks at eyes that seem closed once more this long after the sampled frame
#: (the first decoded frame at least that late): still closed, it was no blink.
FOLLOW_UP_SECONDS = 0.5
#: Eyes are looked at again below this EAR: the closed threshold of a wide-eyed face (open
#: EAR 0.4); the student's own threshold is only known once the lecture is over.
FOLLOW_UP_EAR = 0.27
#: Shares of the window spent attending that reach each level (very high, high, low).
VERY_HIGH_SHARE, HIGH_SHARE, LOW_SHARE = 0.9, 0.6, 0.25
#: Relative view: a student is far below the class when their mean engagement is below the
#: lecture's median by half a level band or more and by two robust standard deviations.
RELATIVE_MARGIN = 0.165

#: The four levels in words (README, report.html and windows.csv's ``level_name`` follow it).
RUBRIC = (
    ("very low", "attending under 25 % of the window (looking away, head down or the face "
                 "gone inside its tile most of the time), or eyes closed 3 s or more"),
    ("low", "attending 25-60 %: frequent looking away, head down or phone"),
    ("high", "attending at least 60 %: on screen with eyes open most of the time"),
    ("very high", "attending at least 90 %: on screen with eyes open all the time"),
)

#: Per-sample classes.
ATTENDING, CLOSED, HEAD_DOWN, AWAY = 0, 1, 2, 3
SHARE_NAMES = ("attending", "eyes_closed", "head_down", "looked_away")


@dataclass
class Baseline:
    """A student's usual head direction and open-eye EAR over the lecture."""

    yaw: float = 0.0
    pitch: float = 0.0
    open_ear: float = OPEN_EAR

    @property
    def closed_ear(self) -> float:
        return CLOSED_EAR_RATIO * self.open_ear


def _shrunk(values: np.ndarray, prior: float, prior_samples: int, stat) -> float:
    """``stat`` of the finite values, pulled towards ``prior`` as if it had
    ``prior_samples`` samples of its own."""
    v = values[np.isfinite(values)]
    if not len(v):
        return prior
    w = len(v) / (len(v) + prior_samples)
    return float(w * stat(v) + (1 - w) * prior)


def student_baseline(yaw: np.ndarray, pitch: np.ndarray, ear: np.ndarray) -> Baseline:
    """The student's usual head direction and open-eye EAR, from their usable faces.

    Each is shrunk towards the typical face (facing the camera, EAR 0.3) in proportion to
    how many frames there are: a still or a few seconds of a student say little about their
    camera's placement or their eyes' shape, and a student who looks away in all of them
    must not make "away" their normal. The open-eye EAR is the student's 75th percentile
    over near-frontal faces (open eyes are the usual state; closures and blinks fall below).
    """
    yaw, pitch, ear = (np.asarray(a, np.float64) for a in (yaw, pitch, ear))
    def usual(v):
        return float(np.clip(np.median(v), -MAX_HEAD_OFFSET, MAX_HEAD_OFFSET))

    y0 = _shrunk(yaw, 0.0, HEAD_PRIOR_SAMPLES, usual)
    p0 = _shrunk(pitch, 0.0, HEAD_PRIOR_SAMPLES, usual)
    # Landmarks of turned or tipped faces give no reliable eye shape.
    front = (np.abs(yaw - y0) <= ON_SCREEN_YAW) & (np.abs(pitch - p0) <= HEAD_UP_PITCH)
    open_ear = _shrunk(ear[front], OPEN_EAR, EAR_PRIOR_SAMPLES,
                       lambda v: np.percentile(v, 75))
    return Baseline(y0, p0, open_ear)


def head_margin(yaw: np.ndarray, pitch: np.ndarray, base: Baseline) -> np.ndarray:
    """How far each head points from the screen: 0 straight at it, 1 at the cone's edge."""
    dy = np.abs(np.asarray(yaw, np.float64) - base.yaw) / ON_SCREEN_YAW
    dp = np.asarray(pitch, np.float64) - base.pitch
    dp = np.where(dp >= 0, dp / HEAD_DOWN_PITCH, -dp / HEAD_UP_PITCH)
    return np.maximum(dy, dp)


def classify(yaw: np.ndarray, pitch: np.ndarray, ear: np.ndarray, base: Baseline
             ) -> tuple[np.ndarray, np.ndarray]:
    """Per sampled face: its class (attending, closed candidate, head down, away) and a 0-1
    quality (how squarely at the screen, how open the eyes) that ranks within a level.

    Closed here means closed in this frame; :func:`sustained` decides blink or closure.
    """
    yaw, pitch, ear = (np.asarray(a, np.float64) for a in (yaw, pitch, ear))
    dy = np.abs(yaw - base.yaw)
    dp = pitch - base.pitch
    cls = np.full(len(yaw), ATTENDING, np.int8)
    unknown = ~(np.isfinite(yaw) & np.isfinite(pitch))
    away = (dy > ON_SCREEN_YAW) | (dp < -HEAD_UP_PITCH)
    down = ~away & (dp > HEAD_DOWN_PITCH)
    closed = ~away & ~down & np.isfinite(ear) & (ear < base.closed_ear)
    cls[closed] = CLOSED
    cls[down] = HEAD_DOWN
    cls[away] = AWAY
    cls[unknown] = ATTENDING  # no pose: nothing says otherwise (never happens with MTCNN)
    m = np.where(unknown, 0.0, head_margin(yaw, pitch, base))
    head_q = np.clip(1.0 - 0.5 * m, 0.0, 1.0)  # 1 facing the screen, 0.5 at the cone's edge
    lo = 0.5 * base.closed_ear
    eye_q = np.where(np.isfinite(ear),
                     np.clip((ear - lo) / max(base.open_ear - lo, 1e-6), 0.0, 1.0), 1.0)
    return cls, head_q * (0.5 + 0.5 * eye_q)


def sustained(t: np.ndarray, closed: np.ndarray, fps: float,
              closed_next: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Which closed-eye samples are closures rather than blinks, and each one's duration.

    Samples are consecutive when they are at most 1.5 sampling intervals apart. A run of
    ``n`` closed samples means the eyes were closed for at least ``(n - 1) / fps`` seconds:
    when that exceeds a blink (:data:`BLINK_SECONDS`) it is a closure. A single closed frame
    between open ones is most likely a blink (at 1 frame/s and 15-20 blinks a minute, 1
    frame in 10-20 catches one), unless the second look ``analyze`` takes
    (:data:`FOLLOW_UP_SECONDS` later, ``closed_next``) found the eyes still closed: then it
    is a closure of at least that long. Durations are lower bounds, so "3 s" is certain.

    Args:
        t: sample times of one student, ascending.
        closed: per sample, eyes closed in that frame.
        fps: sampling rate.
        closed_next: per sample, eyes still closed at the second look (optional).

    Returns:
        ``(is_closure, seconds)``: per sample, whether it belongs to a closure, and how long
        at least the eyes were closed in the run it belongs to (0 where open).
    """
    t = np.asarray(t, np.float64)
    closed = np.asarray(closed, bool)
    keep = np.zeros(len(t), bool)
    secs = np.zeros(len(t))
    step = 1.0 / fps
    i = 0
    while i < len(t):
        if not closed[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(t) and closed[j + 1] and t[j + 1] - t[j] <= 1.5 * step:
            j += 1
        n = j - i + 1
        secs[i:j + 1] = (n - 1) * step
        keep[i:j + 1] = (n - 1) * step > BLINK_SECONDS
        if n == 1 and closed_next is not None and closed_next[i]:
            secs[i] = FOLLOW_UP_SECONDS
            keep[i] = True
        i = j + 1
    return keep, secs


def vanished_times(seen: np.ndarray, hidden, fps: float, camera_off=()) -> np.ndarray:
    """Sample times at which a student's face was hidden inside a tile that still showed it.

    ``analyze`` watches the place of every face that vanishes
    (:class:`lecturelens.track.HiddenWatch`): while the picture there stays like the
    student's tile (hair, clothes, room), the samples are *hidden*, which here means looked
    away (turned beyond what the detector finds, or out of the camera's view for a moment).
    A camera turned off, a screen share or a gallery laid out again ends the watch: a person
    who left is ``absent``, not this. Reports made before the watch existed have no hidden
    samples, and nothing is guessed for them.

    Args:
        seen: times at which the student's face was seen (any quality), ascending.
        hidden: the student's hidden intervals (``(first, last)`` sample times, from
            ``tracks.csv``'s ``hidden_intervals`` of their tracks).
        fps: sampling rate.
        camera_off: the student's camera-off intervals (never looked away).

    Returns:
        The hidden sample times, ascending, none of them a time the face was seen.
    """
    step = 1.0 / fps
    times = []
    for a, b in hidden or ():
        times += [a + k * step for k in range(int(round((b - a) * fps)) + 1)]
    if not times:
        return np.zeros(0)
    out = np.unique(np.round(np.asarray(times, np.float64), 3))
    seen = np.asarray(seen, np.float64)
    if len(seen):
        # Another track of the same student visible meanwhile: seen, not hidden.
        pos = np.clip(np.searchsorted(seen, out), 1, len(seen)) - 1
        near = np.minimum(np.abs(out - seen[pos]),
                          np.abs(out - seen[np.minimum(pos + 1, len(seen) - 1)]))
        out = out[near >= 0.5 * step]
    for x, y in camera_off:
        out = out[(out < x) | (out > y)]
    # Samples closer than half a step are one sample (two tracks' watches overlapping).
    if len(out) > 1:
        out = out[np.r_[True, np.diff(out) >= 0.5 * step]]
    return out


def window_signals(cls: np.ndarray, quality: np.ndarray, closure: np.ndarray,
                   closure_s: np.ndarray, n_seen: int, n_vanished: int,
                   eyes_known: bool) -> dict[str, float]:
    """A window's shares of time (over the samples that could be judged).

    Args:
        cls: :func:`classify` classes of the window's usable faces.
        quality: their qualities.
        closure: per usable face, part of an eye closure (not a blink).
        closure_s: per usable face, how long at least its closed-eye run lasted (s).
        n_seen: faces seen in the window (any quality).
        n_vanished: samples where the face was missing inside its tile.
        eyes_known: EAR was measured (an eye model ran).

    Returns:
        ``face_visible``, ``attending``, ``eyes_closed``, ``head_down``, ``looked_away``
        (shares), ``longest_closure`` (s the eyes were closed at least, in one stretch),
        ``quality`` (0-1); empty when nothing was judged.
    """
    cls = np.asarray(cls)
    judged = len(cls) + n_vanished
    if judged == 0:
        return {}
    # A closed frame that is a blink counts as attending: blinking is not looking away.
    eff = np.where((cls == CLOSED) & ~np.asarray(closure, bool), ATTENDING, cls)
    counts = np.bincount(eff, minlength=4).astype(np.float64)
    counts[AWAY] += n_vanished
    sig = {"face_visible": n_seen / max(n_seen + n_vanished, 1)}
    for k, name in enumerate(SHARE_NAMES):
        sig[name] = float(counts[k] / judged)
    closing = np.asarray(closure_s)[eff == CLOSED]
    sig["longest_closure"] = float(closing.max()) if len(closing) else 0.0
    if not eyes_known:
        sig["eyes_closed"] = float("nan")
    sig["quality"] = float(np.sum(quality) / judged)
    return sig


def rubric_level(sig: dict[str, float]) -> int:
    """The rubric's level (0 very low .. 3 very high) of a window's signals."""
    a = sig.get("attending", 0.0)
    if a < LOW_SHARE or sig.get("longest_closure", 0.0) >= MICROSLEEP_SECONDS:
        return 0
    if a < HIGH_SHARE:
        return 1
    if a < VERY_HIGH_SHARE:
        return 2
    return 3


#: Score bands of the levels: the halfway points between the paper's levels, so that the
#: nearest paper level of a score is its rubric level.
BANDS = ((0.0, 0.165), (0.165, 0.495), (0.495, 0.83), (0.83, 1.0))


def rubric_score(level: int, quality: float) -> float:
    """Continuous engagement: inside the level's band, higher with the window's quality."""
    lo, hi = BANDS[level]
    q = float(np.clip(quality, 0.0, 1.0)) if quality == quality else 0.5
    # Kept off the shared boundaries so the nearest level is never a tie.
    return lo + 0.002 + (hi - lo - 0.004) * q


def relative_to_class(means: dict[str, float]) -> dict[str, dict]:
    """Each student's mean engagement against the class's median in this lecture.

    Relative, not absolute: it says who stood far below the others in this lecture, not
    whether anyone was engaged. "Far below" needs a gap of at least half a level band
    (:data:`RELATIVE_MARGIN`) and two robust standard deviations of the class (1.4826 x
    the median absolute deviation), so a class that is uniformly quiet has nobody far below.

    Args:
        means: student id -> mean engagement (NaN when never judged).

    Returns:
        student id -> ``{"vs_class": difference from the median, "far_below": bool}`` for
        the judged students; empty with fewer than three of them.
    """
    vals = {k: v for k, v in means.items() if v == v}
    if len(vals) < 3:
        return {}
    arr = np.fromiter(vals.values(), float)
    med = float(np.median(arr))
    spread = 1.4826 * float(np.median(np.abs(arr - med)))
    cut = max(RELATIVE_MARGIN, 2.0 * spread)
    return {k: {"vs_class": v - med, "far_below": bool(v < med - cut)}
            for k, v in vals.items()}


def describe() -> list[str]:
    """The rubric as lines of text (for the report's "how to read this")."""
    return [f"{name}: {text}" for name, text in reversed(RUBRIC)]


__all__ = ["Baseline", "RUBRIC", "SHARE_NAMES", "classify", "describe", "relative_to_class",
           "rubric_level", "rubric_score", "student_baseline", "sustained", "vanished_times",
           "window_signals"]
