"""torchvision ResNet backbones as four stages, with a configurable last stride and weights.

`pretrained`: `imagenet` loads torchvision's ImageNet weights when they are in the local torch
cache or can be downloaded; otherwise it warns once and the cell records `none`, never silently.
A path loads a state_dict from disk.
"""
from __future__ import annotations

import socket
import warnings
from pathlib import Path

import torch
from torch import nn
from torchvision import models as tvm

WEIGHTS = {
    "resnet18": tvm.ResNet18_Weights.IMAGENET1K_V1,
    "resnet34": tvm.ResNet34_Weights.IMAGENET1K_V1,
    "resnet50": tvm.ResNet50_Weights.IMAGENET1K_V1,
    "resnet101": tvm.ResNet101_Weights.IMAGENET1K_V1,
}


def _imagenet_state(name: str):
    """The ImageNet state_dict from the torch cache or the network, else None."""
    weights = WEIGHTS[name]
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    if cached.is_file():
        return torch.load(cached, map_location="cpu", weights_only=True)
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(10)
    try:
        return weights.get_state_dict(progress=False)
    except Exception as exc:  # no network, blocked host, partial download
        warnings.warn(f"ImageNet weights for {name} are not in {cached.parent} and could not be downloaded "
                      f"({type(exc).__name__}); training from scratch (recorded as pretrained: none)", stacklevel=2)
        return None
    finally:
        socket.setdefaulttimeout(old)


class ResNetStages(nn.Module):
    """stem + layer1..layer4 of a torchvision ResNet; `forward_stages` returns all four maps."""

    def __init__(self, name: str = "resnet50", last_stride: int = 2, pretrained: str = "none"):
        super().__init__()
        net = getattr(tvm, name)(weights=None)
        self.pretrained = "none"
        if pretrained == "imagenet":
            state = _imagenet_state(name)
            if state is not None:
                net.load_state_dict(state)
                self.pretrained = "imagenet"
        elif pretrained != "none":
            path = Path(pretrained)
            if not path.is_file():
                raise FileNotFoundError(f"{path}: pretrained weights not found")
            state = torch.load(path, map_location="cpu", weights_only=True)
            net.load_state_dict({k: v for k, v in state.items() if not k.startswith("fc.")}, strict=False)
            self.pretrained = str(path)
        if last_stride == 1:  # the strided conv is conv2 in a Bottleneck, conv1 in a BasicBlock
            block = net.layer4[0]
            (block.conv2 if hasattr(block, "conv3") else block.conv1).stride = (1, 1)
            block.downsample[0].stride = (1, 1)
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        self.channels = [_out_channels(layer) for layer in (self.layer1, self.layer2, self.layer3, self.layer4)]

    def forward_stages(self, x):
        x = self.stem(x)
        maps = []
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
            maps.append(x)
        return maps

    def forward(self, x):
        return self.forward_stages(x)[-1]


def _out_channels(layer: nn.Sequential) -> int:
    last = layer[-1]
    return (last.bn3 if hasattr(last, "bn3") else last.bn2).num_features
