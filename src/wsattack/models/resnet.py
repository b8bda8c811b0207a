"""Residual networks for CIFAR-10: ResNet-18 and the small residual net of Wong et al. (2018)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from wsattack.models.registry import register_model


class BasicBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet18(nn.Module):
    """CIFAR-10 variant: 3x3 stem without max-pool, BasicBlocks [2,2,2,2], 4x4 average pool."""

    def __init__(self, in_channels: int, num_classes: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        widths, strides = (64, 128, 256, 512), (1, 2, 2, 2)
        layers, in_planes = [], 64
        for planes, stride in zip(widths, strides, strict=True):
            layers.append(
                nn.Sequential(BasicBlock(in_planes, planes, stride), BasicBlock(planes, planes, 1))
            )
            in_planes = planes
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.linear = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        out = F.avg_pool2d(out, 4)
        return self.linear(out.flatten(1))


class SmallResidualBlock(nn.Module):
    """relu(skip(x) + conv_b(relu(conv_a(x)))), the block of Wong et al. 2018 (no batch norm)."""

    def __init__(self, in_planes: int, planes: int, downsample: bool):
        super().__init__()
        first_kernel, skip_kernel, stride = (4, 2, 2) if downsample else (3, 1, 1)
        self.conv_a = nn.Conv2d(in_planes, planes, first_kernel, stride=stride, padding=1)
        self.skip = nn.Conv2d(in_planes, planes, skip_kernel, stride=stride, padding=0)
        self.conv_b = nn.Conv2d(planes, planes, 3, stride=1, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.skip(x) + self.conv_b(F.relu(self.conv_a(x))))


class ResNetSmall(nn.Module):
    """Four residual blocks of widths 16/16/32/64 (two downsampling), then 1000 hidden units."""

    def __init__(self, in_channels: int, num_classes: int, image_size: tuple[int, int]):
        super().__init__()
        self.stem = nn.Conv2d(in_channels, 16, 3, stride=1, padding=1)
        self.blocks = nn.Sequential(
            SmallResidualBlock(16, 16, False),
            SmallResidualBlock(16, 16, False),
            SmallResidualBlock(16, 32, True),
            SmallResidualBlock(32, 64, True),
        )
        height, width = image_size[0] // 4, image_size[1] // 4
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64 * height * width, 1000),
            nn.ReLU(),
            nn.Linear(1000, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(F.relu(self.stem(x))))


@register_model("resnet18")
def resnet18(
    in_channels: int = 3, num_classes: int = 10, image_size: tuple[int, int] = (32, 32)
) -> nn.Module:
    return ResNet18(in_channels, num_classes)


@register_model("resnet_small")
def resnet_small(
    in_channels: int = 3, num_classes: int = 10, image_size: tuple[int, int] = (32, 32)
) -> nn.Module:
    return ResNetSmall(in_channels, num_classes, image_size)
