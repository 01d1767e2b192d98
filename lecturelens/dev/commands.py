"""The development commands: train, average and evaluate the emotion model, and score a
report against a composed gallery's truth.

``lecturelens`` loads this module by name when one of these commands is asked for (see
:mod:`lecturelens.cli`); ``python -m lecturelens.dev`` runs them on their own. Runtime code
never imports it.
"""

from __future__ import annotations

from pathlib import Path

import click

from lecturelens.config import EMOTION_PRECISIONS
from lecturelens.emotion.train import CROPS, TEACHER_CROPS
from lecturelens.errors import InputError


@click.command("train-emotion")
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--out", default="runs/lensnet_fer", show_default=True,
              help="Folder for checkpoints (last.pt, best.pt) and history.json.")
@click.option("--epochs", default=35, show_default=True, help="Epochs of the one-cycle schedule.")
@click.option("--batch", default=128, show_default=True)
@click.option("--lr", default=0.1, show_default=True, help="Peak learning rate (SGD, Nesterov).")
@click.option("--threads", default=2, show_default=True, help="Torch CPU threads.")
@click.option("--seed", default=0, show_default=True)
@click.option("--resume", type=click.Path(exists=True, dir_okay=False),
              help="last.pt of an interrupted run with the same settings.")
@click.option("--export", type=click.Path(dir_okay=False),
              help="Write the best-on-val weights here as a float16 state dict "
                   "(lecturelens/weights/lensnet_fer.pt for the default model).")
@click.option("--stop-after", type=click.IntRange(1), help="Stop after N epochs of this run "
              "(the schedule still spans --epochs); continue later with --resume.")
@click.option("--bf16/--no-bf16", default=None, help="bfloat16 autocast while training "
              "[default: on when the CPU computes bfloat16 natively]")
@click.option("--crops", type=click.Choice(CROPS), default="whole",
              show_default=True, help="whole: train on the images as they are; faces: on the "
              "faces cut from them as analyze and eval-emotion cut them (detected once, cached); "
              "faces-warp: the same faces cut anew at every step with the augmentation folded "
              "into the cut (one resampling, as analyze's crops have).")
@click.option("--init", type=click.Path(exists=True, dir_okay=False),
              help="Start from these weights (e.g. fine-tune a whole-image model on faces; "
                   "a run's last.pt: its last epoch).")
@click.option("--cache", type=click.Path(file_okay=False),
              help="Folder for the decoded splits (share it between runs) [default: OUT/cache]")
@click.option("--average-from", type=click.IntRange(1), help="Export the average of the weights "
              "at the end of epoch N and every later epoch, instead of the best epoch.")
@click.option("--report-test", is_flag=True, help="Also report the final model's accuracy on "
              "DATA_DIR/test (choose on val; read test once, for the model you ship).")
@click.option("--teacher", "teachers", multiple=True, metavar="[CROPS=]WEIGHTS",
              help="Distil from this net (repeatable; their mean probabilities on the train "
                   "images are soft targets). CROPS (whole or faces; default --crops, faces "
                   "for faces-warp) is what the teacher sees.")
@click.option("--teacher-weight", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Share of the loss given to the teachers' soft targets.")
def train_emotion(data_dir, out, epochs, batch, lr, threads, seed, resume, export, stop_after,
                  bf16, crops, init, cache, average_from, report_test, teachers,
                  teacher_weight):
    """Train the default emotion model (lensnet-fer) on DATA_DIR/{train,val[,test]}/<label>/."""
    from lecturelens.emotion.train import train

    if average_from and average_from > epochs:
        raise click.BadParameter(f"{average_from} is after the last epoch ({epochs})",
                                 param_hint="--average-from")
    pairs = []
    for spec in teachers:
        kind, sep, path = spec.rpartition("=")
        kind = kind if sep else crops if crops in TEACHER_CROPS else "faces"
        if kind not in TEACHER_CROPS:
            raise click.BadParameter(f"{spec}: CROPS must be one of {', '.join(TEACHER_CROPS)}",
                                     param_hint="--teacher")
        if not Path(path).is_file():
            raise click.BadParameter(f"{path}: no such weights file", param_hint="--teacher")
        pairs.append((path, kind))
    res = train(data_dir, out, epochs=epochs, batch=batch, lr=lr, threads=threads, seed=seed,
                resume=resume, export=export, stop_after=stop_after, bf16=bf16, crops=crops,
                init=init, cache=cache, average_from=average_from, report_test=report_test,
                teachers=pairs, teacher_weight=teacher_weight, log=click.echo)
    click.echo(f"best val accuracy {res['best_val']:.4f}"
               + (f", averaged {res['average_val']:.4f}" if "average_val" in res else "")
               + (f", test accuracy {res['test_acc']:.4f}" if "test_acc" in res else ""))


@click.command("soup-emotion")
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("weights", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--export", required=True, type=click.Path(dir_okay=False),
              help="Write the mean here (float16 + int8 calibration, as train-emotion exports).")
@click.option("--crops", type=click.Choice(TEACHER_CROPS), default="faces", show_default=True,
              help="What the val images are (as the runs' --crops; faces for faces-warp).")
@click.option("--cache", type=click.Path(file_okay=False),
              help="Folder of the runs' decoded splits (share it with them).")
@click.option("--threads", type=int, default=2, show_default=True, help="Torch CPU threads.")
def soup_emotion(data_dir, weights, export, crops, cache, threads):
    """Average lensnet weight files (runs fine-tuned from one net with other seeds) into one
    net; report each one's and the mean's accuracy on DATA_DIR/val."""
    from lecturelens.emotion.train import soup

    if len(weights) < 2:
        raise click.BadParameter("give at least two weight files", param_hint="WEIGHTS")
    soup(data_dir, list(weights), export, crops=crops, cache=cache, threads=threads,
         log=click.echo)


@click.command("eval-emotion")
@click.argument("data_dir", type=click.Path(file_okay=False))
@click.option("--model", default="lensnet-fer", show_default=True,
              help="Emotion model (see `lecturelens models list`).")
@click.option("--weights", type=click.Path(dir_okay=False),
              help="Weight file instead of the registry location.")
@click.option("--no-detect", is_flag=True, help="Use whole images; skip face detection.")
@click.option("--precision", type=click.Choice(EMOTION_PRECISIONS), default="auto",
              show_default=True, help="What LectureLens' own nets compute in (as analyze's "
              "--emotion-precision).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--threads", default=0, show_default=True, help="Torch CPU threads (0: default).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def eval_emotion(data_dir, model, weights, no_detect, precision, as_json, threads, quiet):
    """Accuracy, per-class and macro-average recall, confusion matrix on DATA_DIR/<label>/*.jpg."""
    import json

    from lecturelens.emotion.evaluate import evaluate_folder, format_report

    res = evaluate_folder(data_dir, model=model, weights=weights, detect=not no_detect,
                          progress=not quiet, threads=threads, precision=precision)
    click.echo(json.dumps(res, indent=2) if as_json else format_report(res))


@click.command("eval-people")
@click.argument("report_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("truth", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def eval_people(report_dir, truth, as_json):
    """Who-is-who accuracy of REPORT_DIR against a composed gallery's TRUTH.json:
    adjusted Rand index of faces to people, students found vs. true, exact-name rate."""
    import json

    from lecturelens.dev.compose import load_truth
    from lecturelens.dev.evaluate import evaluate_people

    try:
        truth_data = load_truth(truth)
    except (ValueError, KeyError) as exc:
        raise InputError(f"{truth}: not a truth file ({exc}); give the .truth.json that "
                         "sample_videos/compose_gallery.py wrote beside the video") from None
    res = evaluate_people(report_dir, truth_data)
    if as_json:
        click.echo(json.dumps(res, indent=2, ensure_ascii=False))
        return
    click.echo(f"ARI {res['ari']:.4f} over {res['faces']} faces; students found "
               f"{res['students_found']} of {res['students_true']}; exact names "
               f"{res['exact_names']:.1%}")
    for pid, p in res["people"].items():
        mark = "ok " if p["exact"] else "BAD"
        click.echo(f"  [{mark}] {p['name']:<24} -> {p['student_id'] or '-':<4} "
                   f"{p['student_name']}")


#: The commands by name (what :mod:`lecturelens.cli` looks up).
COMMANDS = {cmd.name: cmd for cmd in (train_emotion, soup_emotion, eval_emotion, eval_people)}

__all__ = ["COMMANDS"]
