"""The utility scores' small CNN: layer shapes at 8x8 and 28x28."""

import pytest
import torch

from raygan.models.classifier import SmallCNN


@pytest.mark.parametrize("size", [8, 28])
def test_small_cnn_shapes(size):
    model = SmallCNN(num_classes=10, image_size=size)
    assert model(torch.rand(3, 1, size, size)).shape == (3, 10)
    hidden = model.head[0].in_features
    assert hidden == (64 * 4 * 4 if size == 8 else 64 * 12 * 12)  # 28: Keras' 9216


def test_small_cnn_rejects_a_size_without_feature_map():
    with pytest.raises(ValueError, match="image_size 1 too small for SmallCNN"):
        SmallCNN(num_classes=10, image_size=1)
