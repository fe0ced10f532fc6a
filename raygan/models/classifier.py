"""The small CNN classifier the utility scores train: the Keras MNIST example network that
the WGAN-augmentation paper uses, scaled to the input size."""

from __future__ import annotations

import torch
import torch.nn as nn


class SmallCNN(nn.Module):
    """conv 32 -> conv 64 -> maxpool 2 -> dropout .25 -> dense 128 -> dropout .5 -> classes.

    Keras' 'valid' 3x3 convolutions at 28x28 (28 -> 26 -> 24 -> pool 12); below 16 pixels
    they pad by 1 instead, so an 8x8 digit keeps its size (8 -> 8 -> 8 -> pool 4).
    Raises ValueError for an ``image_size`` (pixels per side) that leaves no feature map."""

    def __init__(self, *, num_classes: int, image_size: int):
        super().__init__()
        pad = 1 if image_size < 16 else 0
        side = (image_size - 4 * (1 - pad)) // 2
        if side < 1:
            raise ValueError(f"image_size {image_size} too small for SmallCNN")
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=pad),
            nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=pad),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Dropout(0.25),
            nn.Flatten(),
        )
        self.head = nn.Sequential(
            nn.Linear(64 * side * side, 128),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(128, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) -> (B, num_classes) logits."""
        return self.head(self.features(x))
