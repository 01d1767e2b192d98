"""Registry entries of the emotion models (see :mod:`lecturelens.models`)."""

from __future__ import annotations

from lecturelens.models import ModelEntry, WeightFile, register

FER7 = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
AFFECTNET8 = ("angry", "contempt", "disgust", "fear", "happy", "neutral", "sad", "surprise")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: sha256 of the committed lensnet_fer weights (models/lensnet_fer.pt: seed 0, trained on
#: whole FER2013 images, fine-tuned on the faces analyze cuts, then again four times, the
#: last three on faces cut anew from each photo at every step (--crops faces-warp; the last
#: stage exports the mean of its epochs 4-10); float16 weights + int8 calibration).
LENSNET_FER_SHA256 = "b6273148bf4a09361655efeae8d161900925d3197b5f7927e41d3c611f006439"
#: sha256 of the second ensemble member (models/lensnet_fer_c.pt: the same recipe from seed
#: 2 to stage 3, then two faces-warp fine-tunes of it (seeds 52, 53) averaged by
#: `lecturelens soup-emotion`; see models/lensnet_fer.md).
LENSNET_FER_C_SHA256 = "04bc893bb4ee1ad2e6539fb19210b878e7256bf6e132d694128b2b78ca44ea13"

register(ModelEntry(
    name="lensnet-fer",
    task="emotion",
    architecture="ensemble of two timm ResNets (BasicBlock [2,2,2,2], channels 32-256, 3x3 "
                 "stem), 48x48 gray",
    files=(WeightFile("repo:models/lensnet_fer.pt", LENSNET_FER_SHA256),
           WeightFile("repo:models/lensnet_fer_c.pt", LENSNET_FER_C_SHA256)),
    licence="weights: trained by LectureLens on FER2013 (research data set, ICML 2013 "
            "challenge; no licence file) - research use; code MIT",
    origin="trained by this project (models/lensnet_fer.md)",
    input_size=48,
    channels=1,
    mean=(0.5,),
    std=(0.5,),
    classes=FER7,
    builder="lensnet",
    default=True,
    notes="mean probabilities of two nets (seeds 0 and 2, fine-tuned on aligned face crops, "
          "weights averaged over the last epochs and, for seed 2, over two runs) "
          "with flip test-time augmentation; int8 on the CPU (--emotion-precision); "
          "features: both nets' 256-d pooled penultimate layers, concatenated (512-d)",
))

_HSE_URL = ("https://github.com/HSE-asavchenko/face-emotion-recognition/blob/main/models/"
            "affectnet_emotions/{}.pt?raw=true")
_HSE_LICENCE = ("Apache-2.0 (HSEmotion code and models); trained on AffectNet (research "
                "licence: check its terms before commercial use)")

for _name, _arch, _size, _classes, _note in [
    ("enet_b0_8_best_vgaf", "tf_efficientnet_b0", 224, AFFECTNET8,
     "selected on VGAF (group affect) validation; the seed papers' model"),
    ("enet_b0_8_best_afew", "tf_efficientnet_b0", 224, AFFECTNET8,
     "selected on AFEW validation"),
    ("enet_b0_8_va_mtl", "tf_efficientnet_b0", 224, AFFECTNET8,
     "multi-task: 8 emotions + valence + arousal (last two outputs)"),
    ("enet_b2_8", "tf_efficientnet_b2", 260, AFFECTNET8, "larger, slower, more accurate"),
    ("enet_b2_7", "tf_efficientnet_b2", 260, tuple(c for c in AFFECTNET8 if c != "contempt"),
     "7 classes (no contempt)"),
]:
    register(ModelEntry(
        name=_name,
        task="emotion",
        architecture=f"timm {_arch} (HSEmotion, pickled whole model)",
        files=(WeightFile(f"cache:{_name}.pt", None, _HSE_URL.format(_name)),),
        licence=_HSE_LICENCE,
        origin="HSEmotion (Savchenko), downloaded on first use",
        input_size=_size,
        channels=3,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        classes=_classes,
        builder=f"hsemotion:{_arch}",
        notes=_note + "; sha256 unknown here (no network): recorded in run.json when used",
    ))
