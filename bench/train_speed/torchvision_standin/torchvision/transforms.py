"""The few torchvision.transforms the compared scripts use, on PIL images and CHW float tensors (see __init__.py)."""

from __future__ import annotations

import enum
import random

import numpy as np
import torch
from PIL import Image


class InterpolationMode(enum.Enum):
    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


PIL_FILTERS = {
    InterpolationMode.NEAREST: Image.Resampling.NEAREST,
    InterpolationMode.NEAREST_EXACT: Image.Resampling.NEAREST,
    InterpolationMode.BILINEAR: Image.Resampling.BILINEAR,
    InterpolationMode.BICUBIC: Image.Resampling.BICUBIC,
    InterpolationMode.BOX: Image.Resampling.BOX,
    InterpolationMode.HAMMING: Image.Resampling.HAMMING,
    InterpolationMode.LANCZOS: Image.Resampling.LANCZOS,
}


class Compose:
    def __init__(self, transforms):
        self.transforms = transforms

    def __call__(self, x):
        for transform in self.transforms:
            x = transform(x)
        return x


class Lambda:
    def __init__(self, function):
        self.function = function

    def __call__(self, x):
        return self.function(x)


class Resize:
    """An int resizes the shorter side to it (aspect kept); a (h, w) pair resizes to exactly that."""

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR, antialias=True):
        self.size, self.filter = size, PIL_FILTERS[interpolation]

    def __call__(self, image: Image.Image) -> Image.Image:
        if isinstance(self.size, int):
            width, height = image.size
            scale = self.size / min(width, height)
            target = (max(1, round(width * scale)), max(1, round(height * scale)))
        else:
            target = (self.size[1], self.size[0])
        return image if image.size == target else image.resize(target, self.filter)


def crop_box(image: Image.Image, size, left: int, top: int) -> Image.Image:
    return image.crop((left, top, left + size[1], top + size[0]))


def pair(size):
    return (size, size) if isinstance(size, int) else tuple(size)


class CenterCrop:
    def __init__(self, size):
        self.size = pair(size)

    def __call__(self, image: Image.Image) -> Image.Image:
        width, height = image.size
        return crop_box(image, self.size, round((width - self.size[1]) / 2), round((height - self.size[0]) / 2))


class RandomCrop:
    def __init__(self, size):
        self.size = pair(size)

    def __call__(self, image: Image.Image) -> Image.Image:
        width, height = image.size
        return crop_box(
            image, self.size, random.randint(0, width - self.size[1]), random.randint(0, height - self.size[0])
        )


class RandomHorizontalFlip:
    def __init__(self, p: float = 0.5):
        self.p = p

    def __call__(self, image):
        if random.random() >= self.p:
            return image
        return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if isinstance(image, Image.Image) else image.flip(-1)


class ToTensor:
    """PIL image (or HWC uint8 array) → CHW float tensor in [0, 1]."""

    def __call__(self, image) -> torch.Tensor:
        array = np.asarray(image)
        if array.ndim == 2:
            array = array[:, :, None]
        return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div(255)


class Normalize:
    def __init__(self, mean, std, inplace: bool = False):
        self.mean, self.std = torch.tensor(mean).view(-1, 1, 1), torch.tensor(std).view(-1, 1, 1)

    def __call__(self, tensor: torch.Tensor) -> torch.Tensor:
        return (tensor - self.mean) / self.std
