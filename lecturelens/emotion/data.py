"""Labelled face-image folders (``DATA_DIR/<label>/*.jpg``, or any other format OpenCV reads:
:data:`IMAGE_SUFFIXES`), label-name mapping, and the faces in such photos as the emotion
models see them.

Evaluation and training cut faces out of these photos the way ``analyze`` cuts them out of a
frame: MTCNN (on an upscaled copy when the image is small), then the shared crop function;
when no face is found (a tight crop such as FER2013's 48x48 faces often is) the whole image
is used.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lecturelens.errors import InputError

#: Canonical emotion names used throughout LectureLens (FER2013's seven plus contempt).
CANONICAL = ("angry", "contempt", "disgust", "fear", "happy", "neutral", "sad", "surprise")

_ALIASES = {
    "anger": "angry", "angry": "angry", "mad": "angry",
    "contempt": "contempt",
    "disgust": "disgust", "disgusted": "disgust",
    "fear": "fear", "fearful": "fear", "scared": "fear", "afraid": "fear",
    "happy": "happy", "happiness": "happy", "joy": "happy", "smile": "happy",
    "neutral": "neutral", "calm": "neutral",
    "sad": "sad", "sadness": "sad",
    "surprise": "surprise", "surprised": "surprise",
}

#: File suffixes of the still images LectureLens reads: every format OpenCV decodes (JPEG,
#: JPEG 2000, PNG, WebP, AVIF, GIF, BMP, TIFF, the portable any-map family, Sun raster,
#: Radiance HDR). Left out: OpenEXR (OpenCV's wheels are built without it) and PFM (float
#: pixels that OpenCV does not scale to 8 bits). Pillow reads the 8-bit files it knows (as
#: before), OpenCV the rest (:func:`read_image`). The one list for every place that picks
#: images out of a folder by name.
IMAGE_SUFFIXES = frozenset({
    ".jpg", ".jpeg", ".jpe", ".jp2", ".png", ".webp", ".avif", ".gif", ".bmp", ".dib",
    ".tif", ".tiff", ".pbm", ".pgm", ".ppm", ".pxm", ".pnm", ".pam", ".sr", ".ras", ".hdr",
    ".pic",
})
#: Pillow modes read as they are; other modes (16-bit, float) and files Pillow cannot open
#: go through OpenCV, which scales them to 8 bits.
_PIL_8BIT = frozenset({"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK",
                       "YCbCr", "LAB", "HSV"})
DETECT_SIDE = 160  # small images are upscaled to this side before face detection


def is_image_file(path: str | Path) -> bool:
    """True for a file whose suffix is one of :data:`IMAGE_SUFFIXES` (any case)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def read_image(path: str | Path, gray: bool = False) -> np.ndarray:
    """An image file as ``H x W x 3`` uint8 RGB (``H x W`` with ``gray``).

    Pillow reads the 8-bit images it knows (so JPEG and PNG decode exactly as before);
    OpenCV reads the rest (Radiance HDR, PAM, 16-bit TIFF and PNG ...), scaled to 8 bits.

    Raises:
        InputError: the file is missing or neither library can decode it.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as im:
            if im.mode in _PIL_8BIT:
                return np.asarray(im.convert("L" if gray else "RGB"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such image file") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        pass
    import cv2

    try:
        buf = np.fromfile(path, np.uint8)  # imdecode: any path, whatever its characters
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    im = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR) if buf.size \
        else None
    if im is None:
        raise InputError(f"{path}: not an image that Pillow or OpenCV can decode")
    return im if gray else cv2.cvtColor(im, cv2.COLOR_BGR2RGB)


def image_hw(path: str | Path) -> tuple[int, int]:
    """An image's height and width: from its header where Pillow knows the format, else by
    decoding it as :func:`read_image` does."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            if im.mode in _PIL_8BIT:
                return im.size[::-1]
    except (OSError, ValueError, SyntaxError):
        pass
    return read_image(path, gray=True).shape[:2]


def canonical_label(name: str) -> str | None:
    """Map a folder/class name (``Anger``, ``happiness``, ``sad`` ...) to a canonical name."""
    return _ALIASES.get(name.strip().lower())


def list_labelled_images(root: str | Path) -> list[tuple[Path, str]]:
    """``(image path, canonical label)`` for every image under ``root/<label>/``.

    Raises:
        InputError: ``root`` is not a folder or holds no labelled images.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: not a folder; expected DATA_DIR/<label>/*.jpg")
    items = []
    unknown = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        label = canonical_label(sub.name)
        if label is None:
            unknown.append(sub.name)
            continue
        items += [(p, label) for p in sorted(sub.iterdir()) if is_image_file(p)]
    if not items:
        hint = f" (unrecognised label folders: {', '.join(unknown)})" if unknown else ""
        raise InputError(f"{root}: no images in <label>/ sub-folders{hint}; expected e.g. "
                         f"{root}/happy/001.jpg")
    return items


def load_gray(items: list[tuple[Path, str]], classes: tuple[str, ...], size: int = 48
              ) -> tuple[np.ndarray, np.ndarray]:
    """Load images as ``N x size x size`` uint8 grayscale and their class indices.

    Images whose label is not in ``classes`` are skipped.
    """
    from PIL import Image

    index = {c: i for i, c in enumerate(classes)}
    xs, ys = [], []
    for path, label in items:
        if label not in index:
            continue
        im = read_image(path, gray=True)
        if im.shape != (size, size):
            im = np.asarray(Image.fromarray(im).resize((size, size), Image.BILINEAR))
        xs.append(im)
        ys.append(index[label])
    return np.stack(xs), np.asarray(ys, dtype=np.int64)


def load_rgb(path: Path) -> np.ndarray:
    """An image file as ``H x W x 3`` uint8 RGB (:func:`read_image`)."""
    return read_image(path)


def photo_detector(threads: int = 0):
    """The MTCNN settings for single-face photos (small faces allowed, one pyramid)."""
    from lecturelens.detect import FaceDetector

    return FaceDetector(min_face=1, detect_min_size=20, threshold=0.8, threads=threads)


def photo_faces(detector, images: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray] | None]:
    """The most prominent face of each photo: ``(box, landmarks)`` in the photo's pixels, or
    ``None`` where MTCNN finds none."""
    import cv2

    scales = [max(1.0, DETECT_SIDE / max(im.shape[:2])) for im in images]
    big = [im if s == 1.0 else cv2.resize(im, (round(im.shape[1] * s), round(im.shape[0] * s)),
                                          interpolation=cv2.INTER_CUBIC)
           for im, s in zip(images, scales)]
    out = []
    for fs, s in zip(detector.detect(big), scales):
        best = max(fs, key=lambda f: f.prob * f.width) if fs else None
        out.append(None if best is None else (best.box / s, best.landmarks / s))
    return out


def face_crops(images: list[np.ndarray], faces, size: int) -> np.ndarray:
    """``N x size x size x 3`` crops of :func:`photo_faces`' faces (whole image where none)."""
    from lecturelens.emotion.align import crop_face

    return np.stack([crop_face(im, *(f if f is not None else (None, None)), size)
                     for im, f in zip(images, faces)])


def load_face_crops(items: list[tuple[Path, str]], classes: tuple[str, ...], size: int = 48,
                    threads: int = 0, chunk: int = 256, progress: bool = True
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Like :func:`load_gray`, but each image is the face cut as ``analyze`` would cut it.

    Returns:
        ``(crops, labels, boxes, landmarks)``: ``N x size x size`` uint8 grayscale crops,
        class indices, and the detected face of each image in its own pixels (``N x 4`` and
        ``N x 5 x 2`` float32, NaN where no face was found and the crop is the whole image).
    """
    import cv2
    from tqdm import tqdm

    index = {c: i for i, c in enumerate(classes)}
    items = [(p, label) for p, label in items if label in index]
    detector = photo_detector(threads)
    boxes = np.full((len(items), 4), np.nan, np.float32)
    points = np.full((len(items), 5, 2), np.nan, np.float32)
    xs = []
    with tqdm(total=len(items), unit="img", disable=not progress, desc="faces") as bar:
        for start in range(0, len(items), chunk):
            images = [load_rgb(p) for p, _ in items[start:start + chunk]]
            faces = photo_faces(detector, images)
            crops = face_crops(images, faces, size)
            xs += [cv2.cvtColor(c, cv2.COLOR_RGB2GRAY) for c in crops]
            for i, f in enumerate(faces, start):
                if f is not None:
                    boxes[i], points[i] = f
            bar.update(len(images))
    return (np.stack(xs), np.asarray([index[label] for _, label in items], np.int64), boxes,
            points)
