"""Tests for nas_core.evaluation: the one loop behind scoring and stand-alone evaluation."""

import math

import pytest
import torch

from nas_core import evaluate_split
from nas_core.data import ImageData

# five flat 5x5 images with two channels; with mean 0 and std 1 the loader hands x = pixel / 255
PIXELS = [(2, 0), (0, 2), (1, 1), (0, 3), (4, 0)]
LABELS = [0, 0, 1, 1, 0]


def _data() -> ImageData:
    images = torch.tensor(PIXELS, dtype=torch.uint8).view(5, 2, 1, 1).expand(5, 2, 5, 5).contiguous()
    return ImageData(images, torch.tensor(LABELS), ("a", "b"), (0.0, 0.0), (1.0, 1.0), "hand", "val")


def _pixels_as_logits(x: torch.Tensor) -> torch.Tensor:
    return x[:, :, 0, 0] * 255  # (B, 2): the logits are the pixel values


def test_loss_and_accuracy_equal_the_hand_computed_figures():
    batches = []

    def forward(x):
        batches.append(len(x))
        return _pixels_as_logits(x)

    found = evaluate_split(forward, _data(), batch_size=2)
    assert batches == [2, 2, 1]  # file order, last partial batch kept
    # argmax: 0, 1, 0 (a tie goes to the first class), 1, 0 -> right on images 0, 3, 4
    assert found["accuracy"] == pytest.approx(3 / 5)
    # cross-entropy of logits (a, b), label 0: log(1 + exp(b - a)); label 1: log(1 + exp(a - b))
    losses = [math.log1p(math.exp(d)) for d in (-2, 2, 0, -3, -4)]
    assert found["loss"] == pytest.approx(sum(losses) / 5, rel=1e-6)


def test_bf16_is_a_no_op_on_cpu():
    exact = evaluate_split(_pixels_as_logits, _data(), batch_size=5)
    assert evaluate_split(_pixels_as_logits, _data(), batch_size=5, bf16=True) == exact
