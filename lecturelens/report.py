"""Stage 8, report: what a teacher opens. ``windows.csv``, ``group.csv``, the students'
summary columns, ``timeline.png``, one PNG per student, GIFs and a self-contained
``report.html``; ``lecturelens report`` applies a late opt-out (:mod:`lecturelens.optout`)
before it rebuilds them.

Everything here reads the files ``analyze`` wrote, so ``lecturelens report DIR`` rebuilds
the reports (e.g. with other window settings, a trained engagement model or a late opt-out)
without running the face models again.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from lecturelens import optout
from lecturelens import reportfiles as rf
from lecturelens.atomic import atomic_csv, atomic_open
from lecturelens.detect import create_face_detector
from lecturelens.engagement import load_model
from lecturelens.errors import InputError
from lecturelens.gifs import GifSettings, _mmss, select_moments, start_clips, write_gifs
from lecturelens.models import all_models
from lecturelens.reportdir import FolderLock, clear_derived, step, sweep_temps
from lecturelens.reportfiles import (GROUP_COLUMNS, STUDENT_COLUMNS, STUDENT_REPORT_COLUMNS,
                                     WINDOW_SIGNALS, read_observations, read_students,
                                     run_info, window_columns, write_run)
from lecturelens.rubric import describe as describe_rubric
from lecturelens.rubric import relative_to_class
from lecturelens.windows import (LEVEL_NAMES, LEVELS, WindowSettings, compute_windows,
                                 engagement_level)

CAUTION = ("Facial expression is not a measure of learning. These figures describe what the "
           "camera saw (faces, head pose, eyes, expressions) and are estimates by models with "
           "known errors and biases. Use them to notice moments worth a second look, never to "
           "grade, rank or discipline a student.")
#: Settings of the report stage that ``lecturelens report`` takes over from the original run.
REBUILD_FIELDS = ("window", "window_overlap", "window_min_share", "engagement_model",
                  "group_affect_model", "gifs", "gif_seconds", "gif_width", "gif_fps",
                  "gif_max_per_student", "gif_min_strength", "min_face", "detect_min_size",
                  "detect_threshold", "threads")
#: How far (engagement + valence / 2) must stand from the lecture's median to be marked.
KEY_MOMENT_MARGIN = 0.05
STATE_COLOURS = {"camera_off": "#9ab7d3", "absent": "#e6e6e6", "insufficient": "#f3e2a9",
                 "looked_away": "#f2c6a0"}
AFFECT_COLOURS = {"positive": "#b9e3b0", "neutral": "#eeeeee", "negative": "#f4b6b0"}


@dataclass
class ReportSettings:
    """Everything :func:`build_reports` needs besides the report folder."""

    windows: WindowSettings = field(default_factory=WindowSettings)
    gifs: GifSettings = field(default_factory=GifSettings)
    engagement_model: str = ""
    group_affect_model: str = ""
    plots: bool = True

    @classmethod
    def from_config(cls, config) -> "ReportSettings":
        """The report stage's settings of an :class:`~lecturelens.config.AnalyzeConfig`."""
        return cls(
            windows=WindowSettings(window=config.window, overlap=config.window_overlap,
                                   min_share=config.window_min_share),
            gifs=GifSettings(mode=config.gifs, seconds=config.gif_seconds,
                             width=config.gif_width, fps=config.gif_fps,
                             max_per_student=config.gif_max_per_student,
                             min_strength=config.gif_min_strength),
            engagement_model=config.engagement_model,
            group_affect_model=config.group_affect_model)


def _fmt(v, digits=3) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


# --- tables -------------------------------------------------------------------------------

def _write_tables(dest: Path, res) -> None:
    with atomic_csv(dest / rf.WINDOWS, window_columns(res.classes)) as w:
        for r in res.rows:
            sig = r["signals"]
            probs = r.get("probs")
            lvl = r.get("level")
            w.writerow([r["student_id"], r["name"], f"{r['start']:.1f}", f"{r['end']:.1f}",
                        r["state"], r["faces"], r["usable_faces"], r["expected_faces"],
                        r["camera_off_seconds"], r.get("emotion", ""),
                        _fmt(r.get("strength")), _fmt(r.get("valence"))]
                       + ([f"{p:.4f}" for p in probs] if probs is not None
                          else [""] * len(res.classes))
                       + [_fmt(r.get("engagement")), "" if lvl is None else LEVELS[lvl],
                          "" if lvl is None else LEVEL_NAMES[lvl]]
                       + [_fmt(sig.get(k)) for k in WINDOW_SIGNALS]
                       + [_fmt(r.get("yaw"), 1), _fmt(r.get("pitch"), 1), _fmt(r.get("ear")),
                          _fmt(r.get("motion"))])
    with atomic_csv(dest / rf.GROUP, GROUP_COLUMNS) as w:
        for g in res.group_rows:
            sc = g.get("scores", {})
            w.writerow([f"{g['start']:.1f}", f"{g['end']:.1f}", g["group_affect"]]
                       + [_fmt(sc.get(k)) for k in ("positive", "neutral", "negative")]
                       + [_fmt(g.get("mean_valence")), _fmt(g.get("valence_spread")),
                          g["students_visible"], g["students_camera_off"],
                          g["students_absent"], g["students_insufficient"],
                          _fmt(g.get("mean_engagement")), g.get("students_looked_away", 0)])
    for name, arr in ((rf.WINDOW_FEATURES, res.descriptors),
                      (rf.GROUP_FEATURES, res.group_descriptors)):
        with atomic_open(dest / name, "wb") as fh:
            np.save(fh, np.asarray(arr, np.float16))  # no copy when already float16


def student_summaries(res) -> dict[str, dict]:
    """Per student: dominant emotion, mean engagement, share of judged windows per level
    (``ok`` and ``looked_away``), and how they compare with the class in this lecture."""
    out: dict[str, dict] = {}
    for r in res.rows:
        s = out.setdefault(r["student_id"], {"name": r["name"], "probs": [], "eng": [],
                                             "levels": [0, 0, 0, 0], "states": {}})
        s["states"][r["state"]] = s["states"].get(r["state"], 0) + 1
        if r["state"] == "ok" and r.get("probs") is not None:
            s["probs"].append(r["probs"])
        if r.get("level") is not None and r.get("engagement") == r.get("engagement"):
            s["eng"].append(r["engagement"])
            s["levels"][r["level"]] += 1
    for s in out.values():
        mp = np.mean(s["probs"], axis=0) if s["probs"] else None
        s["dominant_emotion"] = res.classes[int(np.argmax(mp))] if mp is not None else ""
        s["mean_probs"] = mp
        s["mean_engagement"] = float(np.mean(s["eng"])) if s["eng"] else float("nan")
        n = sum(s["levels"])
        s["level_shares"] = [c / n if n else float("nan") for c in s["levels"]]
    rel = relative_to_class({k: s["mean_engagement"] for k, s in out.items()})
    for k, s in out.items():
        s["vs_class"] = rel.get(k, {}).get("vs_class", float("nan"))
        s["far_below"] = rel.get(k, {}).get("far_below", False)
    return out


def _update_students_csv(dest: Path, summaries: dict, duration: float) -> list[dict]:
    rows = rf.read_table(dest / rf.STUDENTS)[1]
    cols = STUDENT_COLUMNS + STUDENT_REPORT_COLUMNS
    with atomic_csv(dest / rf.STUDENTS, cols) as w:
        for r in rows:
            s = summaries.get(r["student_id"])
            if s is not None:
                lvl = s["mean_engagement"]
                r.update({"dominant_emotion": s["dominant_emotion"],
                          "mean_engagement": _fmt(lvl),
                          "engagement_level": "" if lvl != lvl
                          else LEVEL_NAMES[engagement_level(lvl)]})
                for k in range(4):
                    r[f"share_level_{k}"] = _fmt(s["level_shares"][k])
                for st in ("ok", "insufficient", "camera_off", "absent", "looked_away"):
                    r[f"windows_{st}"] = s["states"].get(st, 0)
                r["engagement_vs_class"] = _fmt(s["vs_class"])
            off = float(r.get("seconds_camera_off") or 0)
            r["camera_off_share"] = _fmt(off / duration if duration > 0 else float("nan"))
            w.writerow([r.get(c, "") for c in cols])
    return rows


# --- plots --------------------------------------------------------------------------------

def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lecturelens.fonts import plot_font_families

    plt.rcParams["font.family"] = plot_font_families()
    return plt


def key_moments(group_rows: Sequence[dict], n: int = 3) -> dict[str, list[dict]]:
    """The most engaging and the most difficult windows.

    Difficult means low engagement and, second, negative valence. Only windows where at
    least half of the usual number of students are visible count; engaging ones must be
    above the lecture's median, difficult ones below it, and picks are at least two windows
    apart. Short lectures get fewer marks (one per five windows, at most ``n``).
    """
    usable = [g for g in group_rows if g.get("mean_engagement") == g.get("mean_engagement")
              and "mean_valence" in g]
    if len(usable) < 3:
        return {"engaging": [], "difficult": []}
    typical = np.median([g["students_visible"] for g in usable])
    usable = [g for g in usable if g["students_visible"] >= 0.5 * typical]
    n = max(1, min(n, len(usable) // 5))

    def score(g):
        return g["mean_engagement"] + 0.5 * g["mean_valence"]

    median = float(np.median([score(g) for g in usable]))

    def pick(candidates, key):
        chosen = []
        for g in sorted(candidates, key=key):
            width = g["end"] - g["start"]
            if all(abs(g["start"] - c["start"]) >= 2 * width for c in chosen):
                chosen.append(g)
            if len(chosen) == n:
                break
        return chosen

    # A flat lecture has no moments to point at: a mark needs a clear distance from typical.
    return {"engaging": pick([g for g in usable if score(g) > median + KEY_MOMENT_MARGIN],
                             lambda g: -score(g)),
            "difficult": pick([g for g in usable if score(g) < median - KEY_MOMENT_MARGIN],
                              score)}


def _time_axis(ax) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(nbins=12, steps=[1, 2, 3, 5, 6, 10]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: _mmss(x * 60)))
    ax.set_xlabel("lecture time (min:s)")


def plot_timeline(res, path: Path, title: str) -> dict[str, list[dict]]:
    """``timeline.png``: group affect, engagement and attendance over the lecture."""
    plt = _plt()
    g = res.group_rows
    mid = np.array([(x["start"] + x["end"]) / 2 for x in g]) / 60.0
    val = np.array([x.get("mean_valence", np.nan) for x in g])
    spread = np.array([x.get("valence_spread", np.nan) for x in g])
    eng = np.array([x.get("mean_engagement", np.nan) for x in g])
    fig, axes = plt.subplots(3, 1, figsize=(11, 6.4), sharex=True,
                             gridspec_kw={"height_ratios": [3, 3, 1.4]})
    ax = axes[0]
    for affect, colour in AFFECT_COLOURS.items():
        xr = [(x["start"] / 60, (x["end"] - x["start"]) / 60) for x in g
              if x["group_affect"] == affect]
        if xr:
            ax.broken_barh(xr, (-1, 2), color=colour, lw=0)
    ax.plot(mid, val, color="#333", lw=1.6, label="mean valence")
    ax.fill_between(mid, val - spread, val + spread, color="#555", alpha=0.18,
                    label="spread between students")
    ax.axhline(0, color="#888", lw=0.6)
    ax.set_ylim(-1, 1)
    ax.set_ylabel("group valence")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in AFFECT_COLOURS.values()]
    ax.legend(handles + ax.get_legend_handles_labels()[0][:2],
              [f"group {k}" for k in AFFECT_COLOURS] + ["mean valence", "spread"],
              loc="upper right", fontsize=7, ncol=5, framealpha=0.85)
    ax.set_title(title, fontsize=11)
    ax = axes[1]
    ax.plot(mid, eng, color="#1f5fa8", lw=1.8)
    for lv in LEVELS[1:3]:
        ax.axhline(lv, color="#bbb", lw=0.6, ls="--")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("mean engagement")
    moments = key_moments(g)
    for kind, marker, colour in (("engaging", "^", "#2a8a2a"), ("difficult", "v", "#c0392b")):
        for i, x in enumerate(moments[kind]):
            t = (x["start"] + x["end"]) / 120.0
            ax.plot([t], [x["mean_engagement"]], marker=marker, color=colour, ms=10)
            ax.annotate(f"{'most engaging' if kind == 'engaging' else 'most difficult'}"
                        f"{'' if i == 0 else f' #{i + 1}'}\n{_mmss(x['start'])}",
                        (t, x["mean_engagement"]), textcoords="offset points",
                        xytext=(0, 10 if kind == "engaging" else -26), ha="center",
                        fontsize=7, color=colour)
    ax = axes[2]
    vis = np.array([x["students_visible"] for x in g])
    off = np.array([x["students_camera_off"] for x in g])
    width = np.array([(x["end"] - x["start"]) / 60 * 0.92 for x in g])
    ax.bar(mid, vis, width=width, color="#7a9cc6", label="visible")
    ax.bar(mid, off, width=width, bottom=vis, color=STATE_COLOURS["camera_off"],
           label="camera off", hatch="//")
    few = np.array([x["students_insufficient"] for x in g])
    ax.bar(mid, few, width=width, bottom=vis + off, color=STATE_COLOURS["insufficient"],
           label="too few faces")
    ax.set_ylabel("students")
    _time_axis(ax)
    ax.legend(loc="upper right", fontsize=7, ncol=3)
    fig.tight_layout()
    _save_fig(fig, path)
    return moments


def plot_student(res, student_id: str, name: str, path: Path, duration: float) -> None:
    """One student's emotions (stacked probabilities) and engagement per window."""
    plt = _plt()
    rows = [r for r in res.rows if r["student_id"] == student_id]
    fig, axes = plt.subplots(2, 1, figsize=(9, 3.8), sharex=True,
                             gridspec_kw={"height_ratios": [2, 1.3]})
    colours = {"angry": "#d62728", "disgust": "#8c564b", "fear": "#9467bd",
               "happy": "#2ca02c", "neutral": "#c7c7c7", "sad": "#1f77b4",
               "surprise": "#ff7f0e", "contempt": "#e377c2"}
    ax = axes[0]
    # One artist per class and per state, not one per window: a 60-minute lecture has
    # hundreds of windows, and matplotlib's cost grows with the number of artists.
    spans: dict[str, list[tuple[float, float]]] = {}
    for r in rows:
        if r["state"] != "ok":
            spans.setdefault(r["state"], []).append((r["start"] / 60,
                                                     (r["end"] - r["start"]) / 60))
    for state, xr in spans.items():
        for axx in axes:
            axx.broken_barh(xr, (-1, 3), color=STATE_COLOURS.get(state, "#eee"), lw=0)
    # Stacked areas over each run of consecutive usable windows (one polygon per class and
    # run; a bar per window and class cost a second per chart on long lectures).
    run: list[dict] = []
    for r in rows + [{"state": "end"}]:
        if r["state"] == "ok" and r.get("probs") is not None:
            run.append(r)
            continue
        if run:
            x = [run[0]["start"] / 60] + [(q["start"] + q["end"]) / 120 for q in run] \
                + [run[-1]["end"] / 60]
            p = np.array([run[0]["probs"]] + [q["probs"] for q in run] + [run[-1]["probs"]],
                         dtype=float)
            ax.stackplot(x, p.T, colors=[colours.get(c, "#999") for c in res.classes], lw=0)
            run = []
    ax.set_ylim(0, 1)
    ax.set_ylabel("emotion share")
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours.get(c, "#999")) for c in res.classes]
    handles += [plt.Rectangle((0, 0), 1, 1, color=v) for v in STATE_COLOURS.values()]
    ax.legend(handles, list(res.classes) + [k.replace("_", " ") for k in STATE_COLOURS],
              fontsize=6.5, ncol=5, loc="lower right", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(name, fontsize=10, loc="left")
    ax = axes[1]
    t = [(r["start"] + r["end"]) / 120 for r in rows]
    e = [r.get("engagement", np.nan) for r in rows]
    ax.plot(t, e, color="#1f5fa8", marker=".", lw=1.4)
    for lv in LEVELS[1:3]:
        ax.axhline(lv, color="#bbb", lw=0.6, ls="--")
    ax.set_ylim(0, 1.05)
    ax.set_xlim(0, max(duration / 60, 1e-3))
    ax.set_ylabel("engagement")
    _time_axis(ax)
    # Fixed margins (what tight_layout chose for this size): tight_layout measured every
    # text's extent and took a third of the time of each of a lecture's 25 charts.
    fig.subplots_adjust(left=0.075, right=0.965, top=0.865, bottom=0.12, hspace=0.13)
    _save_fig(fig, path)


def _save_fig(fig, path: Path) -> None:
    plt = _plt()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=110)
    plt.close(fig)


# --- HTML ---------------------------------------------------------------------------------

HTML_STYLE = """<style>body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1100px;
color:#222}table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;
padding:3px 7px}th{background:#f3f3f3}.caution{background:#fff6d6;border:1px solid #e0c060;
padding:10px 14px;border-radius:6px}.gifs img{margin:4px;border:1px solid #ccc}
.student{margin-top:26px;border-top:1px solid #ddd;padding-top:8px}
.muted{color:#777;font-size:12px}</style>"""


def _percent(share) -> str:
    try:
        return f"{100 * float(share):.0f} %"
    except (TypeError, ValueError):
        return ""


def _data_uri(path: Path, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _provenance(run: dict, settings: ReportSettings) -> list[tuple[str, str, str, str]]:
    entries = {e.name: e for e in all_models()}
    rows = []
    for m in run.get("models", []):
        e = entries.get(m["name"])
        files = m.get("files") or []
        sha = ", ".join(f"{Path(f['path']).name} {f['sha256'][:12]}…" for f in files
                        if f.get("sha256"))
        rows.append((m["name"], m.get("task", ""), e.origin if e else m.get("version", ""),
                     (e.licence if e else "") + (f" ({sha})" if sha else "")))
    rows.append(("engagement", "windows",
                 settings.engagement_model or "LectureLens' rubric: levels from the shares "
                 "of each window spent attending (head toward the screen, eyes open), with "
                 "eyes closed, head down and looking away (see How to read this)",
                 "not trained on engagement labels" if not settings.engagement_model
                 else "user-trained ridge regression (see its card)"))
    rows.append(("group affect", "windows",
                 settings.group_affect_model or "LectureLens' default: mean valence of the "
                 "visible students (positive above +0.15, negative below -0.15)",
                 "not trained on group labels" if not settings.group_affect_model
                 else "user-trained linear SVC (see its card)"))
    return rows


def write_html(dest: Path, res, run: dict, summaries: dict, students: list[dict],
               gifs: list[dict], moments: dict, settings: ReportSettings,
               duration: float) -> None:
    """``report.html``: one self-contained page (images and GIFs embedded)."""
    e = html.escape
    title = Path(run.get("input", {}).get("path", dest.name)).name
    g = res.group_rows
    counts = {k: sum(1 for x in g if x["group_affect"] == k)
              for k in ("positive", "neutral", "negative", "insufficient")}
    n = max(1, len(g))
    parts = [f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>LectureLens: {e(title)}</title>
{HTML_STYLE}
</head><body>
<h1>Lecture report: {e(title)}</h1>
<p>{_mmss(duration)} of video, {len(students)} students, windows of
{settings.windows.window:g} s. Generated by LectureLens {e(run.get('versions', {}).get(
        'lecturelens', ''))}.</p>
<p class="caution"><b>Please read:</b> {e(CAUTION)}</p>
<h2>The class over time</h2>
<p>Group affect was positive in {100 * counts['positive'] / n:.0f} % of the windows, neutral
in {100 * counts['neutral'] / n:.0f} %, negative in {100 * counts['negative'] / n:.0f} %
(no visible students: {100 * counts['insufficient'] / n:.0f} %).</p>"""]
    items = []
    for kind, label in (("engaging", "Most engaging"), ("difficult", "Most difficult")):
        for x in moments.get(kind, []):
            items.append(f"<li>{label} moment: {_mmss(x['start'])}-{_mmss(x['end'])} (mean "
                         f"engagement {x['mean_engagement']:.2f}, group "
                         f"{e(x['group_affect'])}, {x['students_visible']} students visible)"
                         "</li>")
    if items:
        parts.append("<ul>" + "".join(items) + "</ul>")
    if (dest / rf.TIMELINE).is_file():
        parts.append(f'<img alt="class timeline" style="max-width:100%" '
                     f'src="{_data_uri(dest / rf.TIMELINE, "image/png")}">')
    parts.append("""<h2>Students</h2><table><tr><th>id</th><th>name</th><th>visible (s)</th>
<th>camera off</th><th>dominant emotion</th><th>mean engagement</th>
<th>very low / low / high / very high</th>
<th>vs class, this lecture (relative)</th></tr>""")
    for s in students:
        sm = summaries.get(s["student_id"], {})
        shares = sm.get("level_shares", [float("nan")] * 4)
        shares_txt = " / ".join("-" if x != x else f"{100 * x:.0f}%" for x in shares)
        eng = sm.get("mean_engagement", float("nan"))
        rel = sm.get("vs_class", float("nan"))
        rel_txt = "" if rel != rel else f"{rel:+.2f}" + (
            ' <b>far below</b>' if sm.get("far_below") else "")
        parts.append(f"<tr><td>{e(s['student_id'])}</td><td>{e(s['name'])}</td>"
                     f"<td>{e(s['seconds_visible'])}</td>"
                     f"<td>{_percent(s.get('camera_off_share'))}</td>"
                     f"<td>{e(sm.get('dominant_emotion', ''))}</td>"
                     f"<td>{'' if eng != eng else f'{eng:.2f}'}</td><td>{shares_txt}</td>"
                     f"<td>{rel_txt}</td></tr>")
    parts.append("</table>")
    far = [s for s in students if summaries.get(s["student_id"], {}).get("far_below")]
    parts.append("<p><b>Relative view</b> (this lecture only, compared with this class): "
                 + (", ".join(e(s["name"]) for s in far) + " stood far below the class's "
                    "median engagement" if far else "nobody stood far below the class")
                 + ". Relative means just that: a whole class can be low or high together, "
                 "and one lecture says nothing about a student in general.</p>")
    by_student: dict[str, list[dict]] = {}
    for gif in gifs:
        by_student.setdefault(gif["student_id"], []).append(gif)
    for s in students:
        sid = s["student_id"]
        parts.append(f'<div class="student" id="{e(sid)}"><h3>{e(s["name"])} '
                     f'<span class="muted">({e(sid)})</span></h3>')
        png = rf.student_plot(dest, sid)
        if png.is_file():
            parts.append(f'<img alt="{e(s["name"])} over time" style="max-width:100%" '
                         f'src="{_data_uri(png, "image/png")}">')
        clips = by_student.get(sid, [])
        if clips:
            parts.append('<div class="gifs">' + "".join(
                f'<figure style="display:inline-block;margin:4px"><img alt="{e(c["emotion"])}"'
                f' src="{_data_uri(dest / c["path"], "image/gif")}"><figcaption class="muted">'
                f'{e(c["emotion"])} at {_mmss(c["t"])}</figcaption></figure>' for c in clips)
                + "</div>")
        parts.append("</div>")
    parts.append("""<h2>How to read this</h2><ul>
<li><b>Engagement levels</b> (the seed paper's 0, 0.33, 0.66, 1) follow a rubric in terms a
camera sees; windows.csv gives each window's shares of time attending (head toward the
screen, eyes open), with eyes closed, head down and looked away:<ul>"""
                 + "".join(f"<li>{e(line)}</li>" for line in describe_rubric())
                 + """</ul>The engagement number (0-1) sits inside its level's band and ranks
windows within it.</li>
<li><b>Looked away</b> windows: the face vanished inside its tile (turned beyond what the
detector finds) while its tile kept showing the student; they get a level too (very low
or low). <b>Camera off</b> and
<b>absent</b> (not there, or gone from the meeting) windows are not counted as disengaged;
windows with too few usable faces are marked <i>insufficient</i> instead of guessed.</li>
<li><b>Group affect</b> comes from the mean valence of the visible students' emotions.</li>
</ul><h2>Models and their provenance</h2><table><tr><th>model</th><th>task</th>
<th>source</th><th>licence / checksum</th></tr>""")
    for row in _provenance(run, settings):
        parts.append("<tr>" + "".join(f"<td>{e(str(x))}</td>" for x in row) + "</tr>")
    parts.append("</table></body></html>\n")
    with atomic_open(dest / rf.REPORT_HTML, "w", encoding="utf-8") as fh:
        fh.write("\n".join(parts))


# --- the whole stage ----------------------------------------------------------------------

def build_reports(dest: str | Path, settings: ReportSettings | None = None,
                  video: str | Path | None = None, detector=None,
                  progress: bool = False,
                  on_ready: Callable[[dict], None] | None = None) -> dict:
    """Windows, group affect, plots, GIFs and the HTML page of one analysed recording.

    Nothing is written until everything that can fail on the inputs has been checked (the
    windows are computed and the recording found); then the previous outputs go,
    ``report.html`` first, and the new ones are written, ``report.html`` last: a folder with
    a ``report.html`` is always a complete report (see :mod:`lecturelens.reportdir`).

    Args:
        dest: the report folder written by ``analyze``.
        settings: window, GIF and model settings.
        video: the recording (for GIFs); default: the path in ``run.json``.
        detector: a face detector used to keep other faces out of GIFs (optional).
        progress: progress bars on stderr.
        on_ready: called with the summary once every other output is written, before
            ``report.html`` (callers write run.json's final status there).

    Returns:
        Summary for ``run.json``: files written, windows, GIFs.
    """
    dest = Path(dest)
    settings = settings or ReportSettings()
    run = run_info(dest)
    duration = float(run.get("input", {}).get("duration") or 0.0)
    fps = float(run.get("config", {}).get("fps") or 1.0)
    obs = read_observations(dest)
    if duration <= 0 and len(obs.t):
        duration = float(obs.t.max()) + 1.0 / fps
    students = read_students(dest)
    eng_model = load_model(settings.engagement_model) if settings.engagement_model else None
    grp_model = (load_model(settings.group_affect_model) if settings.group_affect_model
                 else None)
    res = compute_windows(obs, students, duration, fps, settings.windows,
                          engagement_model=eng_model, group_model=grp_model)
    chosen = select_moments(res.rows, settings.gifs)
    if chosen:
        video = Path(video or run.get("input", {}).get("path", ""))
        if not video.is_file():
            raise InputError(f"{video}: the recording is needed for GIFs; pass it, or use "
                             "--gifs none")
    # Stale outputs (an earlier run, an opt-out) must not survive a rebuild, and a half
    # rebuilt folder must not look complete: report.html goes first.
    clear_derived(dest)
    _write_tables(dest, res)
    step("report tables")
    summaries = student_summaries(res)
    student_rows = _update_students_csv(dest, summaries, duration)
    written = [rf.WINDOWS, rf.GROUP, rf.WINDOW_FEATURES, rf.GROUP_FEATURES]
    moments = {"engaging": [], "difficult": []}
    # The GIF clips are decoded (ffmpeg, in background threads) while the plots are drawn.
    clips = start_clips(video, obs, chosen, fps, settings.gifs) if chosen else None
    gifs: list[dict] = []
    try:
        if settings.plots:
            moments = plot_timeline(res, dest / rf.TIMELINE,
                                    f"{Path(run.get('input', {}).get('path', dest.name)).name}")
            written.append(rf.TIMELINE)
            for s in student_rows:
                plot_student(res, s["student_id"], s["name"],
                             rf.student_plot(dest, s["student_id"]), duration)
            written.append(f"{rf.PLOT_DIR}/")
        step("report plots")
        if clips is not None:
            gifs = write_gifs(video, dest, obs, chosen, fps, settings.gifs, detector=detector,
                              progress=progress, clips=clips)
            written.append(f"{rf.GIF_DIR}/")
    finally:
        if clips is not None:
            clips.close()
    step("report gifs")
    with atomic_csv(dest / rf.GIF_TABLE, rf.GIF_COLUMNS) as w:
        for gif in gifs:
            w.writerow([gif[k] if k != "crop" else " ".join(map(str, gif[k]))
                        for k in rf.GIF_COLUMNS])
    written.append(rf.GIF_TABLE)
    written.append(rf.REPORT_HTML)
    states = {}
    for r in res.rows:
        states[r["state"]] = states.get(r["state"], 0) + 1
    summary = {"windows": len(res.group_rows), "student_windows": states, "gifs": len(gifs),
               "report_outputs": written,
               "engagement_model": settings.engagement_model or "default",
               "group_affect_model": settings.group_affect_model or "default"}
    if on_ready is not None:
        on_ready(summary)
    step("report run.json")
    write_html(dest, res, run, summaries, student_rows, gifs, moments, settings, duration)
    step("report html")
    return summary


def rebuild(dest: str | Path, config, video: str | Path | None = None,
            progress: bool = False) -> dict:
    """``lecturelens report``: apply an opt-out, then rebuild the reports of ``dest``.

    Holds the folder's lock throughout; first finishes an opt-out that a kill interrupted,
    then removes the students ``config`` excludes from every file (:mod:`lecturelens.optout`),
    and only then rebuilds.

    Args:
        dest: the report folder.
        config: an :class:`~lecturelens.config.AnalyzeConfig` (window, GIF, model and
            exclude settings).
        video: the recording (default: the path in ``run.json``).
        progress: progress bars on stderr.

    Returns:
        The report summary (also merged into ``run.json``); ``excluded_students`` when this
        call removed some.

    Raises:
        ExclusionError: an exclusion that means nobody (nothing is changed then).
        FolderBusyError: another run is writing the folder.
    """
    dest = Path(dest)
    exclusions = optout.Exclusions.from_config(config)
    exclusions.check_photos()
    run_info(dest)  # a folder that is no report: its own error, before any lock file
    with FolderLock(dest, "report"):
        sweep_temps(dest)
        finished = optout.recover(dest)
        run = run_info(dest)
        if run.get("status") != "ok":
            # (no analysis runs now: this process holds the folder's lock)
            raise InputError(f"{dest}: its analysis did not finish (status "
                             f"{run.get('status')!r}, so it was stopped or failed); run "
                             "`lecturelens analyze` again")
        removed = 0
        if exclusions:
            removed = optout.remove_students(dest, exclusions, strict=True,
                                             finished=finished).people
        detector = None
        if config.gifs != "none":
            detector = create_face_detector(config)

        def ready(summary: dict) -> None:
            record = run_info(dest)  # as the opt-out left it
            record["reports"] = {k: v for k, v in summary.items() if k != "report_outputs"}
            write_run(dest, record)

        summary = build_reports(dest, ReportSettings.from_config(config), video=video,
                                detector=detector, progress=progress, on_ready=ready)
        optout.forget(dest)
    summary.pop("report_outputs")
    if removed:
        summary["excluded_students"] = removed
    return summary


__all__ = ["ReportSettings", "build_reports", "rebuild", "key_moments", "plot_timeline",
           "plot_student", "write_html"]
