"""Load a whole pickled PyTorch model (HSEmotion's format) without running its pickle.

HSEmotion publishes each model as ``torch.save(model)``: a pickle that names timm classes of
the version it was saved with, and a pickle may name any callable, ``os.system`` included.
This loader never imports or calls what the pickle names. Module classes (``torch.nn.*``,
``timm.*``) become inert placeholders that only record their attributes; tensors are rebuilt
by torch's own storage functions; anything else is refused. The placeholder tree is then
flattened into a plain state dict, which is loaded into a freshly built architecture.
"""

from __future__ import annotations

import collections
import pickle
import types

#: Module prefixes whose classes are replaced by placeholders (never imported).
_PLACEHOLDER_PREFIXES = ("torch.nn.", "timm.", "functools", "efficientnet_pytorch")
#: Exact callables allowed to run: torch's tensor/storage rebuilders and plain containers.
_ALLOWED = {
    ("collections", "OrderedDict"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_parameter"),
    ("torch._utils", "_rebuild_parameter_with_state"),
    ("torch", "Size"),
    ("torch", "device"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "slice"),
    ("copyreg", "_reconstructor"),
    ("builtins", "object"),
}
_DTYPES = {"float32", "float16", "float64", "bfloat16", "int64", "int32", "int8", "uint8",
           "bool"}


class _Placeholder:
    """Stands in for any module/class named by the pickle; records state, runs nothing."""

    _qualname = "?"

    def __init__(self, *args, **kwargs):
        self._args = args

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slots)
            state = {**(state[0] or {}), **(state[1] or {})}
        if isinstance(state, dict):
            self.__dict__.update(state)

    def __call__(self, *args, **kwargs):  # e.g. functools.partial(act, inplace=True)
        return _placeholder_class(self._qualname + "()")()


def _placeholder_class(qualname: str) -> type:
    return type("Placeholder", (_Placeholder,), {"_qualname": qualname})


class RefusedPickle(pickle.UnpicklingError):
    """The pickle names something that is not part of a model."""


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        module = {"__builtin__": "builtins", "copy_reg": "copyreg"}.get(module, module)
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        if module == "torch" and name in _DTYPES:
            return super().find_class(module, name)
        if module.startswith(_PLACEHOLDER_PREFIXES) or module in ("torch.nn", "timm"):
            return _placeholder_class(f"{module}.{name}")
        raise RefusedPickle(f"refusing to load {module}.{name}: not part of a model")


# torch.load accepts any module-like object with Unpickler/load/Unpickler attributes.
_pickle_module = types.SimpleNamespace(Unpickler=_Unpickler, load=pickle.load,
                                       __name__="lecturelens_safe_pickle")


def _state_dict_of(obj, prefix: str, out: dict) -> None:
    d = getattr(obj, "__dict__", {})
    for key in ("_parameters", "_buffers"):
        for name, value in (d.get(key) or {}).items():
            if value is not None:
                out[prefix + name] = value.detach() if hasattr(value, "detach") else value
    for name, child in (d.get("_modules") or {}).items():
        if child is not None:
            _state_dict_of(child, f"{prefix}{name}.", out)


def load_pickled_model_state(path) -> collections.OrderedDict:
    """State dict of a whole-model pickle saved by ``torch.save(model)``, loaded safely.

    Raises:
        RefusedPickle: the file names a callable outside the allow-list.
        ValueError: the file holds no module (no parameters found).
    """
    import torch

    obj = torch.load(path, map_location="cpu", pickle_module=_pickle_module,
                     weights_only=False)
    state: collections.OrderedDict = collections.OrderedDict()
    if isinstance(obj, dict) and all(hasattr(v, "shape") for v in obj.values()):
        state.update(obj)  # already a state dict
    else:
        _state_dict_of(obj, "", state)
    if not state:
        raise ValueError(f"{path}: no model parameters found in the file")
    return state
