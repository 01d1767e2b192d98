"""Train LectureLens' own emotion model on a labelled folder (FER2013 layout).

    lecturelens train-emotion DATA_DIR --out runs/fer --epochs 40

``DATA_DIR`` holds ``train/`` and ``val/`` (and optionally ``test/``), each laid out as
``<label>/*.jpg``. Model selection uses ``val`` only; ``test`` is read only when asked
(``report_test``), for the model to be shipped.
Checkpoints (``last.pt`` to resume with ``--resume``, ``best.pt``) and ``history.json`` go
to ``--out``; ``--export`` writes the best weights as a float16 state dict for
``lecturelens/weights/``.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

FER_CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def _augment(x, gen, warp=None):
    """Random flip, rotation/scale/shift, brightness/contrast and erasing on a batch in [0,1].

    Args:
        x: ``N x 1 x H x W`` images in [0, 1]: the crops themselves, or with ``warp`` the
            whole photos they are cut from.
        gen: the random generator.
        warp: ``N x 2 x 3`` maps from crop pixels to photo pixels (:func:`_crop_maps`). The
            random rotation/scale/shift is folded into each map and the crop is cut from the
            photo in one resampling, mirrored outwards where it leaves the photo: the crops
            ``analyze`` gives the model, plus the augmentation, with no second blur.
    """
    import torch
    import torch.nn.functional as F

    n = x.shape[0]
    flip = torch.rand(n, generator=gen) < 0.5
    ang = (torch.rand(n, generator=gen) * 2 - 1) * math.radians(12)
    scale = 1 + (torch.rand(n, generator=gen) * 2 - 1) * 0.12
    shift = (torch.rand(n, 2, generator=gen) * 2 - 1) * 0.12
    cos, sin = torch.cos(ang) / scale, torch.sin(ang) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    if warp is None:
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    else:
        x = _warp(x, warp, theta, CROP_SIZE)
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
    contrast = 1 + (torch.rand(n, 1, 1, 1, generator=gen) * 2 - 1) * 0.25
    bright = (torch.rand(n, 1, 1, 1, generator=gen) * 2 - 1) * 0.12
    mean = x.mean(dim=(2, 3), keepdim=True)
    x = ((x - mean) * contrast + mean + bright).clamp(0, 1)
    # Random erasing: one rectangle per image with probability 0.5.
    h, w = x.shape[2:]
    erase = torch.rand(n, generator=gen) < 0.5
    eh = (torch.rand(n, generator=gen) * 0.3 + 0.15) * h
    ew = (torch.rand(n, generator=gen) * 0.3 + 0.15) * w
    ey = torch.rand(n, generator=gen) * (h - eh)
    ex = torch.rand(n, generator=gen) * (w - ew)
    yy = torch.arange(h).view(1, h, 1)
    xx = torch.arange(w).view(1, 1, w)
    mask = ((yy >= ey.view(n, 1, 1)) & (yy < (ey + eh).view(n, 1, 1))
            & (xx >= ex.view(n, 1, 1)) & (xx < (ex + ew).view(n, 1, 1)) & erase.view(n, 1, 1))
    x = torch.where(mask[:, None], torch.rand(n, 1, 1, 1, generator=gen), x)
    return x


#: Side of the crops the model is trained on (lensnet's input).
CROP_SIZE = 48


def _warp(photos, maps, theta, size: int):
    """Cut ``size x size`` crops from ``photos`` (``N x 1 x H x W``) through ``maps`` (crop
    pixel -> photo pixel, ``N x 2 x 3``) after ``theta`` (``N x 2 x 3``, in the normalised
    crop coordinates of :func:`torch.nn.functional.affine_grid`; identity for none).

    Bilinear, mirrored outwards past the photo's edge like ``cv2.BORDER_REFLECT_101`` (the
    border of :func:`lecturelens.emotion.align.crop_face`).
    """
    import torch
    import torch.nn.functional as F

    n, _, h, w = photos.shape
    q = (torch.arange(size, dtype=torch.float32) * 2 + 1) / size - 1  # pixel centres, -1..1
    gy, gx = torch.meshgrid(q, q, indexing="ij")
    ones = torch.ones_like(gx)
    base = torch.stack([gx, gy, ones], -1).view(1, size * size, 3)
    nc = base @ theta.transpose(1, 2)  # augmented positions, normalised crop coordinates
    pix = (nc + 1) * (size / 2) - 0.5  # ... in crop pixels
    src = torch.cat([pix, torch.ones_like(pix[..., :1])], -1) @ maps.float().transpose(1, 2)
    # Mirrored outwards like OpenCV's REFLECT_101 (about the edge pixels' centres, repeating):
    # folding the coordinate back into the photo is exact for bilinear sampling.
    size_xy = torch.tensor([w, h], dtype=torch.float32)
    period = 2 * (size_xy - 1).clamp(min=1)
    src = torch.remainder(src, period)
    src = torch.where(src > size_xy - 1, period - src, src)
    grid = ((2 * src + 1) / size_xy - 1).view(n, size, size, 2)
    return F.grid_sample(photos, grid, mode="bilinear", padding_mode="border",
                         align_corners=False)


def _crop_maps(boxes: np.ndarray, landmarks: np.ndarray, photo_hw: np.ndarray,
               shape: tuple[int, int]) -> np.ndarray:
    """``N x 2 x 3`` maps from crop pixels to image pixels: the inverse of each face's
    :func:`~lecturelens.emotion.align.crop_matrix` (NaN rows: no face, the whole photo).

    The faces were detected in photos of ``photo_hw`` (``N x 2``) pixels, since resized to
    the square ``shape`` (a FER2013 image is already 48 x 48; a larger photo is cut from its
    copy).
    """
    from lecturelens.emotion.align import crop_matrix

    if shape[0] != shape[1]:
        raise ValueError(f"training images must be square, got {shape}")
    out = np.empty((len(boxes), 2, 3), np.float32)
    for i, (box, pts, hw) in enumerate(zip(boxes, landmarks, photo_hw)):
        # No face: crop_matrix is the plain resize from the photo to its square copy.
        resize = np.vstack([crop_matrix(None, None, shape[0], tuple(hw)), [0, 0, 1]])
        found = bool(np.isfinite(box).all())
        m = crop_matrix(box if found else None, pts if found else None, CROP_SIZE, tuple(hw))
        out[i] = (resize @ np.linalg.inv(np.vstack([m, [0, 0, 1]])))[:2]
    return out


def _to_input(u8):
    import torch

    return (torch.from_numpy(u8).float().unsqueeze(1) / 255.0 - 0.5) / 0.5


def predict_logits(model, images_u8: np.ndarray, batch: int = 512, tta: bool = True):
    """Logits for ``N x 48 x 48`` uint8 images; with ``tta`` averaged with the mirror image."""
    import torch

    model.eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(images_u8), batch):
            x = _to_input(images_u8[i:i + batch])
            logits = model(x)
            if tta:
                logits = (logits.softmax(1) + model(x.flip(3)).softmax(1)).log()
            out.append(logits)
    return torch.cat(out).numpy()


def _accuracy(model, images_u8: np.ndarray, labels: np.ndarray) -> float:
    """Share of ``images_u8`` whose flip-TTA prediction (:func:`predict_logits`) is the label."""
    return float((predict_logits(model, images_u8).argmax(1) == labels).mean())


#: What a net is trained on: ``whole`` images, the ``faces`` cut from them once and cached,
#: or ``faces-warp``: those faces cut anew at every step, the augmentation folded into the
#: crop (one resampling, as in ``analyze``; val is the same cached ``faces``).
CROPS = ("whole", "faces", "faces-warp")
#: What a teacher may see (its targets are fixed, so a warped crop adds nothing).
TEACHER_CROPS = ("whole", "faces")


def _load_net(path):
    """A lensnet (float32, eval mode) from a weights file (exported, or a run's best.pt)."""
    from lecturelens.emotion import _load_state
    from lecturelens.emotion.nets import build_lensnet, read_lensnet_weights
    from lecturelens.emotion.quant import split_calibration

    model = build_lensnet(num_classes=len(FER_CLASSES))
    _load_state(model, split_calibration(read_lensnet_weights(path))[0], "lensnet-fer", path)
    return model.eval()


def teacher_targets(data_dir: str | Path, teachers, cache: str | Path, threads: int = 2,
                    log=print) -> np.ndarray:
    """Soft targets for distillation: the mean class probabilities of ``teachers`` on the
    train split (``N x classes``, in the order :func:`train` reads it), cached.

    Each teacher sees its own crops (flip test-time augmentation included), so nets trained
    on whole images can teach a net that only ever gets detected faces: the whole image
    keeps pixels that the FER-framed crop of a tight FER2013 face has to invent.

    Args:
        data_dir: folder with ``train/``.
        teachers: ``(weights_path, crops)`` pairs; crops is one of :data:`TEACHER_CROPS`.
        cache: folder shared with :func:`train` (decoded splits and these targets).
        threads: torch CPU threads.
        log: called with one line per teacher.
    """
    import hashlib

    import torch

    from lecturelens.atomic import atomic_open
    from lecturelens.models import sha256_file

    cache = Path(cache)
    key = hashlib.sha256()
    for path, crops in teachers:
        if crops not in TEACHER_CROPS:
            raise ValueError(f"teacher crops must be one of {', '.join(TEACHER_CROPS)}, "
                             f"not {crops!r}")
        key.update((sha256_file(path) + crops).encode())
    f = cache / f"teacher_{key.hexdigest()[:16]}.npz"
    if f.exists():
        return np.load(f)["probs"]
    torch.set_num_threads(threads)
    splits = {}
    total = None
    for path, crops in teachers:
        if crops not in splits:
            splits[crops] = _load_split(Path(data_dir), "train", cache, crops, threads, log)
        x, y = splits[crops]
        p = torch.from_numpy(predict_logits(_load_net(path), x)).softmax(1).numpy()
        log(f"teacher {path} ({crops}): train accuracy {(p.argmax(1) == y).mean():.4f}")
        total = p if total is None else total + p
    probs = (total / len(teachers)).astype(np.float32)
    cache.mkdir(parents=True, exist_ok=True)
    with atomic_open(f, "wb") as fh:
        np.savez(fh, probs=probs, teachers=np.array([f"{c}={p}" for p, c in teachers]))
    return probs


def _load_split(root: Path, split: str, cache: Path | None, crops: str = "whole",
                threads: int = 0, log=print):
    """``(images, labels)`` of one split: whole images, or the faces ``analyze`` would cut
    (detection takes about 5 ms per image here, so the result is cached).

    With ``faces-warp`` the images are the whole ones and a third item holds each face's
    map from crop pixels to image pixels (:func:`_crop_maps`), for :func:`_augment`.
    """
    from lecturelens.atomic import atomic_open
    from lecturelens.emotion.data import list_labelled_images, load_gray

    if crops == "faces-warp":
        x, y = _load_split(root, split, cache, "whole", threads, log)
        d = _face_cache(root, split, cache, threads, log)
        return x, y, _crop_maps(d["box"], d["lm"], d["hw"], x.shape[1:])
    if crops == "faces":
        d = _face_cache(root, split, cache, threads, log)
        return d["x"], d["y"]
    f = None if cache is None else cache / f"{split}.npz"
    if f is not None and f.exists():
        d = np.load(f)
        return d["x"], d["y"]
    x, y = load_gray(list_labelled_images(root / split), FER_CLASSES)
    if f is not None:
        cache.mkdir(parents=True, exist_ok=True)
        with atomic_open(f, "wb") as fh:
            np.savez(fh, x=x, y=y)
    return x, y


def _photo_hw(path: Path) -> tuple[int, int]:
    """A photo's height and width, read from its header where Pillow knows the format."""
    from lecturelens.emotion.data import image_hw

    return image_hw(path)


def _face_cache(root: Path, split: str, cache: Path | None, threads: int, log) -> dict:
    """The detected faces of a split: crops ``x``, labels ``y``, ``box``, ``lm`` (NaN where
    none was found) and each photo's ``hw``; cached as ``SPLIT_faces.npz``."""
    from lecturelens.atomic import atomic_open
    from lecturelens.emotion.data import list_labelled_images, load_face_crops

    f = None if cache is None else cache / f"{split}_faces.npz"
    if f is not None and f.exists():
        d = dict(np.load(f))
        if "lm" in d:
            return d
        log(f"{f}: made before landmarks were cached; detecting again")
    items = [(p, c) for p, c in list_labelled_images(root / split) if c in FER_CLASSES]
    x, y, box, lm = load_face_crops(items, FER_CLASSES, threads=threads)
    found = np.isfinite(box[:, 0])
    log(f"{split}: face found in {found.mean():.1%} of {len(found)} images")
    hw = np.array([_photo_hw(p) for p, _ in items], np.int32)
    d = {"x": x, "y": y, "found": found, "box": box, "lm": lm, "hw": hw}
    if f is not None:
        cache.mkdir(parents=True, exist_ok=True)
        with atomic_open(f, "wb") as fh:
            np.savez(fh, **d)
    return d


def train(data_dir: str | Path, out: str | Path, epochs: int = 40, batch: int = 128,
          lr: float = 0.1, weight_decay: float = 5e-4, label_smoothing: float = 0.1,
          threads: int = 2, seed: int = 0, resume: str | Path | None = None,
          export: str | Path | None = None, stop_after: int | None = None,
          bf16: bool | None = None, crops: str = "whole", init: str | Path | None = None,
          cache: str | Path | None = None, average_from: int | None = None,
          report_test: bool = False, teachers=(), teacher_weight: float = 0.5,
          log=print) -> dict:
    """Train ``lensnet_fer``; return the history (per-epoch loss and val accuracy).

    Args:
        data_dir: folder with ``train/`` and ``val/`` (``test/`` optional).
        out: folder for checkpoints and history.
        epochs: total epochs of the one-cycle schedule.
        batch, lr, weight_decay, label_smoothing: optimisation settings (SGD, Nesterov).
        threads: torch CPU threads.
        seed: makes initialisation, shuffling and augmentation reproducible.
        resume: ``last.pt`` of an interrupted run with the same settings.
        export: where to write the best weights as a float16 state dict.
        stop_after: stop after this many epochs of this call (the schedule still spans
            ``epochs``); continue later with ``resume``. Lets a long CPU training run be split
            over several sessions.
        bf16: bfloat16 autocast for the forward/backward pass (weights stay float32);
            ``None``: on when the CPU has native bfloat16 (AVX512-BF16/AMX), where it
            trains about 1.5x faster.
        crops: ``whole``: every image as it is; ``faces``: the face cut from each image as
            ``analyze`` and ``eval-emotion`` cut it (MTCNN + the shared crop function; the
            whole image where no face is found), so the model learns the crops it will get.
        init: start from these weights (e.g. a ``whole`` model to fine-tune on ``faces``;
            a run's ``last.pt`` gives its last epoch's weights; ignored with ``resume``,
            whose checkpoint holds the weights).
        cache: folder for the decoded (and cropped) splits; default ``OUT/cache``.
        average_from: average the weights at the end of this epoch and every later one
            (uniformly, BatchNorm statistics included) and export that average instead of
            the best epoch. Averaging the last epochs of a fine-tuning run gave nets 0.8-0.9
            points better on val than any single epoch (lecturelens/weights/lensnet_fer.md).
        report_test: also measure the final model on ``test/`` (``test_acc``). Off by
            default: a test figure printed after every run invites choosing on test.
        teachers: ``(weights_path, crops)`` pairs whose mean probabilities on the train
            split (:func:`teacher_targets`) are soft targets for the model (distillation).
        teacher_weight: share of the loss given to the soft targets (the rest is the
            label's cross-entropy).
        log: called with one line per epoch.
    """
    import torch
    import torch.nn.functional as F

    from lecturelens.emotion import quant
    from lecturelens.emotion.nets import build_lensnet

    torch.set_num_threads(threads)
    if crops not in CROPS:
        raise ValueError(f"crops must be one of {', '.join(CROPS)}, not {crops!r}")
    if not 0 <= teacher_weight <= 1:
        raise ValueError(f"teacher_weight must be from 0 to 1, not {teacher_weight}")
    if average_from is not None and not 1 <= average_from <= epochs:
        raise ValueError(f"average_from must be an epoch from 1 to {epochs}, not {average_from}")
    data_dir, out = Path(data_dir), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(cache) if cache else out / "cache"
    # Val (and test) are always the crops eval-emotion measures: with faces-warp, the faces.
    eval_crops = "faces" if crops == "faces-warp" else crops
    xtr, ytr, *maps = _load_split(data_dir, "train", cache, crops, threads, log)
    xva, yva = _load_split(data_dir, "val", cache, eval_crops, threads, log)
    soft = None
    if teachers:
        soft = torch.from_numpy(teacher_targets(data_dir, teachers, cache, threads, log))
        log(f"distilling from {len(teachers)} teacher(s), weight {teacher_weight}: teachers' "
            f"train accuracy {(soft.argmax(1).numpy() == ytr).mean():.4f}")

    if bf16 is None:
        bf16 = quant.bf16_supported()
    log(f"train {len(xtr)} images, val {len(xva)} images, classes {FER_CLASSES}, "
        f"bf16 autocast {'on' if bf16 else 'off'}, crops {crops}")
    # Seeded here, after the teachers (whose nets also draw initial weights), so a run
    # starts the same whether their targets were cached or not.
    torch.manual_seed(seed)
    if init and not resume:
        model = _load_net(init)
        log(f"initialised from {init}")
    else:
        model = build_lensnet(num_classes=len(FER_CLASSES))
    # channels-last convolutions are ~1.5x faster on CPU (oneDNN) for this small network.
    model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True,
                          weight_decay=weight_decay)
    steps = math.ceil(len(xtr) / batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, epochs=epochs,
                                                steps_per_epoch=steps, pct_start=0.15)
    state = {"epoch": 0, "best_val": 0.0, "history": [], "avg": None, "avg_n": 0}
    if resume:
        ck = torch.load(resume, map_location="cpu", weights_only=True)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        state = {k: ck.get(k, v) for k, v in state.items()}
        log(f"resumed at epoch {state['epoch']}")
    gen = torch.Generator().manual_seed(seed + state["epoch"])
    xtr_t = torch.from_numpy(xtr)
    maps_t = torch.from_numpy(maps[0]) if maps else None
    ytr_t = torch.from_numpy(ytr)

    last = epochs if stop_after is None else min(epochs, state["epoch"] + stop_after)
    for epoch in range(state["epoch"], last):
        model.train()
        t0 = time.time()
        perm = torch.randperm(len(xtr), generator=gen)
        total = correct = 0
        loss_sum = 0.0
        for i in range(steps):
            idx = perm[i * batch:(i + 1) * batch]
            x = xtr_t[idx].float().unsqueeze(1) / 255.0
            warp = None if maps_t is None else maps_t[idx]
            x = ((_augment(x, gen, warp) - 0.5) / 0.5).contiguous(
                memory_format=torch.channels_last)
            y = ytr_t[idx]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bool(bf16)):
                logits = model(x)
            loss = F.cross_entropy(logits.float(), y, label_smoothing=label_smoothing)
            if soft is not None:
                # The mirror augmentation needs no care: the targets are flip-averaged.
                loss = ((1 - teacher_weight) * loss
                        + teacher_weight * F.cross_entropy(logits.float(), soft[idx]))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += float(loss.detach()) * len(y)
            total += len(y)
            correct += int((logits.argmax(1) == y).sum())
        val_acc = _accuracy(model, xva, yva)
        row = {"epoch": epoch + 1, "loss": loss_sum / total, "train_acc": correct / total,
               "val_acc": val_acc, "seconds": round(time.time() - t0, 1),
               "lr": sched.get_last_lr()[0]}
        state["history"].append(row)
        state["epoch"] = epoch + 1
        if val_acc > state["best_val"]:
            state["best_val"] = val_acc
            _save(model.state_dict(), out / "best.pt")
        if average_from and epoch + 1 >= average_from:
            # A float64 running sum, kept in last.pt so an interrupted run resumes it.
            total = state["avg"] or {}
            state["avg"] = {k: total.get(k, 0) + v.double() if v.is_floating_point() else v.clone()
                            for k, v in model.state_dict().items()}
            state["avg_n"] += 1
        _save({"model": model.state_dict(), "optimizer": opt.state_dict(),
               "scheduler": sched.state_dict(), **state}, out / "last.pt")
        (out / "history.json").write_text(json.dumps(state["history"], indent=1))
        log(f"epoch {epoch + 1}/{epochs} loss {row['loss']:.3f} train {row['train_acc']:.3f} "
            f"val {val_acc:.4f} (best {state['best_val']:.4f}) {row['seconds']} s")

    result = {"history": state["history"], "best_val": state["best_val"],
              "epochs_done": state["epoch"]}
    if state["epoch"] < epochs:
        log(f"stopped after epoch {state['epoch']} of {epochs}; continue with "
            f"--resume {out / 'last.pt'}")
        return result
    # Only when this call asks for it: a run resumed without --average-from exports its best
    # epoch, not a sum that stopped growing when the flag was dropped.
    averaged = bool(average_from) and state["avg"] is not None
    if averaged:
        model.load_state_dict({k: (v / state["avg_n"]).float() if v.is_floating_point() else v
                               for k, v in state["avg"].items()})
        result["average_val"] = _accuracy(model, xva, yva)
        _save(model.state_dict(), out / "average.pt")
        # The epochs actually summed (a run resumed with the flag may have started it late).
        log(f"average of epochs {epochs - state['avg_n'] + 1}-{epochs}: val "
            f"{result['average_val']:.4f} (best single epoch {state['best_val']:.4f})")
    else:
        model.load_state_dict(torch.load(out / "best.pt", map_location="cpu",
                                         weights_only=True))
        log(f"final model: the best-on-val epoch (val {state['best_val']:.4f})")
    if report_test and not (data_dir / "test").is_dir():
        log(f"no test accuracy: {data_dir / 'test'} is not a folder")
    elif report_test:
        xte, yte = _load_split(data_dir, "test", cache, eval_crops, threads, log)
        result["test_acc"] = _accuracy(model, xte, yte)
        log(f"test accuracy of the {'averaged' if averaged else 'best-on-val'} model: "
            f"{result['test_acc']:.4f}")
    if export:
        export_weights(model, export, xva)
        log(f"exported {export} (float16 weights + int8 calibration on {CALIBRATION_IMAGES} "
            "val images)")
    return result


def soup(data_dir: str | Path, weights, export: str | Path, crops: str = "faces",
         cache: str | Path | None = None, threads: int = 2, log=print) -> dict:
    """Export the uniform mean of lensnet weight files (a "model soup"), as ``train`` exports.

    Runs fine-tuned from one starting point with different seeds stay in one basin of the
    loss, so the mean of their weights (BatchNorm statistics included, as ``--average-from``
    averages epochs) is a better net than each of them. Nets of other lineages average into
    a broken net: the mean is still exported, with a warning when it scores below its best
    member.

    Args:
        data_dir: FER2013-style folder; its ``val`` split reports the accuracies and
            calibrates the int8 ranges of the export.
        weights: two or more weight files (exported, ``average.pt``, ``best.pt`` or a run's
            ``last.pt``).
        export: where to write the mean (float16 + int8 calibration, atomically).
        crops: what the val images are (``whole`` or ``faces``, as ``--crops``).
        cache: folder for the decoded val split (share it with the runs).
        threads: torch CPU threads.

    Returns:
        ``{"val": [each file's val accuracy], "soup_val": the mean's}``.

    Raises:
        ValueError: fewer than two files, or ``crops`` unknown.
        ModelError: a file is not lensnet weights.
    """
    import torch

    if len(weights) < 2:
        raise ValueError("a soup needs at least two weight files")
    if crops not in TEACHER_CROPS:
        raise ValueError(f"crops must be one of {', '.join(TEACHER_CROPS)}, not {crops!r}")
    data_dir = Path(data_dir)
    torch.set_num_threads(threads)
    cache = Path(cache) if cache else None
    xva, yva = _load_split(data_dir, "val", cache, crops, threads, log)
    nets = [_load_net(w) for w in weights]
    result = {"val": []}
    for w, net in zip(weights, nets):
        result["val"].append(_accuracy(net, xva, yva))
        log(f"{w}: val {result['val'][-1]:.4f}")
    states = [n.state_dict() for n in nets]
    mean = {k: sum(st[k].double() for st in states).div(len(states)).float()
            if v.is_floating_point() else v for k, v in states[0].items()}
    model = nets[0]
    model.load_state_dict(mean)
    result["soup_val"] = _accuracy(model, xva, yva)
    log(f"mean of {len(weights)} nets: val {result['soup_val']:.4f}")
    if result["soup_val"] < max(result["val"]):
        # Still exported (a soup may be kept for its pair), but nets of other lineages
        # average into a broken net, and this is where the user can see it.
        log(f"warning: the mean is worse than its best net ({max(result['val']):.4f}); were "
            "all of them fine-tuned from one starting point?")
    export_weights(model, export, xva)
    log(f"exported {export} (float16 weights + int8 calibration on {CALIBRATION_IMAGES} "
        "val images)")
    return result


#: Validation images whose activation ranges calibrate the int8 version of an export.
CALIBRATION_IMAGES = 1024


def export_weights(model, path: str | Path, calibration_images: np.ndarray) -> None:
    """Write ``model`` as LectureLens ships it: a float16 state dict plus the int8
    activation ranges measured on ``calibration_images`` (``N x 48 x 48`` uint8; an evenly
    spaced :data:`CALIBRATION_IMAGES` of them, and their mirror images), written atomically.

    The float16 weights are what every precision runs from, so calibration uses them too.
    """
    import torch

    from lecturelens.emotion.nets import build_lensnet
    from lecturelens.emotion.quant import calibrate

    half = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    net = build_lensnet(num_classes=len(FER_CLASSES))
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in half.items()})
    step = max(1, len(calibration_images) // CALIBRATION_IMAGES)
    x = _to_input(np.ascontiguousarray(calibration_images[::step][:CALIBRATION_IMAGES]))
    batches = [torch.cat([b, b.flip(3)]) for b in x.split(128)]
    _save({**half, **calibrate(net, batches)}, path)


def _save(obj, path: str | Path) -> None:
    """``torch.save`` through :func:`atomic_open`: a crash never leaves a truncated file."""
    import torch

    from lecturelens.atomic import atomic_open

    with atomic_open(path, "wb") as fh:
        torch.save(obj, fh)
