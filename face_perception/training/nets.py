"""Small convolutional networks for face-chip classification (emotion, eyewear)."""

from __future__ import annotations

import torch
from torch import nn


def _conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class SeparableBlock(nn.Module):
    """Two depthwise-separable 3x3 convolutions, then stride-2 max pool, plus a 1x1 stride-2 shortcut."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cin, 3, 1, 1, groups=cin, bias=False),
            nn.Conv2d(cin, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, 1, 1, groups=cout, bias=False),
            nn.Conv2d(cout, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
            nn.MaxPool2d(3, 2, 1),
        )
        self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, 2, bias=False), nn.BatchNorm2d(cout))
        self.activation = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.body(x) + self.shortcut(x))


class ChipNet(nn.Module):
    """Stem (a full-resolution 3x3 convolution, then a stride-2 one), separable residual blocks that
    halve the resolution, global pooling and a linear classifier.

    ``widths``: channels of the stem and of each block. The forward pass ends in softmax, so
    the exported ONNX model returns probabilities.
    """

    def __init__(self, in_channels: int, classes: int, widths: tuple[int, ...], dropout: float = 0.2) -> None:
        super().__init__()
        stem = widths[0]
        self.stem = nn.Sequential(_conv_bn(in_channels, stem // 2, 3), _conv_bn(stem // 2, stem, 3, stride=2))
        blocks = []
        for cin, cout in zip(widths[:-1], widths[1:], strict=True):
            blocks.append(SeparableBlock(cin, cout))
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(widths[-1], classes)
        )

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(x), dim=1)
