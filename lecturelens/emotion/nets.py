"""Architectures of the emotion models LectureLens trains itself.

``lensnet_fer``: a timm ResNet-18 layout (BasicBlock, [2, 2, 2, 2]) narrowed to channels
(32, 64, 128, 256), with a 3x3 stride-1 stem for 48x48 grayscale faces (the ImageNet
7x7 stride-2 stem throws away too much of a 48 px face). 2.8 M parameters; about 1 ms per
face on one laptop core.
"""

from __future__ import annotations

LENSNET_CHANNELS = (32, 64, 128, 256)


def build_lensnet(num_classes: int = 7, in_chans: int = 1, channels=LENSNET_CHANNELS):
    """Build the (untrained) ``lensnet_fer`` network.

    Args:
        num_classes: output classes.
        in_chans: input channels (1: grayscale).
        channels: widths of the four ResNet stages.

    Returns:
        A ``timm.models.resnet.ResNet``; ``forward_features`` + ``forward_head(...,
        pre_logits=True)`` give the penultimate feature vector.
    """
    import torch.nn as nn
    from timm.models.resnet import BasicBlock, ResNet

    model = ResNet(BasicBlock, [2, 2, 2, 2], num_classes=num_classes, in_chans=in_chans,
                   channels=channels)
    # timm feeds stage 1 with 64 channels from its stem; keep that width, change only the
    # kernel and stride so a 48 px face keeps its detail.
    model.conv1 = nn.Conv2d(in_chans, 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.bn1 = nn.BatchNorm2d(64)
    return model


def read_lensnet_weights(path, name: str = "lensnet-fer") -> dict:
    """A lensnet state dict file (float16 as exported, or float32) as float32 tensors.

    A run's ``last.pt`` checkpoint also loads: its ``model`` entry, the weights of the
    run's last epoch.

    Raises:
        ModelError: the file is not a loadable state dict.
    """
    import torch

    from lecturelens.errors import ModelError

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's file
        # torch's own message suggests weights_only=False, which would run the pickle.
        raise ModelError(f"{path}: not a loadable {name} weights file "
                         f"({type(exc).__name__}); give a state dict saved by "
                         "`lecturelens train-emotion`") from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    if not (isinstance(state, dict) and all(isinstance(v, torch.Tensor) for v in state.values())):
        raise ModelError(f"{path}: not a {name} state dict; give weights saved by "
                         "`lecturelens train-emotion`")
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
