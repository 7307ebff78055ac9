"""torchvision ResNet backbones as four stages, with a configurable last stride and weights.

`pretrained`: `imagenet` loads torchvision's ImageNet file from the torch cache, `none` starts
from scratch, a path loads a state_dict file (models/weights.py: no download, no silent fallback;
a missing or partial file is a one-line error). `weights` records the file (name, sha256) or None.
"""
from __future__ import annotations

from torch import nn
from torchvision import models as tvm

from attnreid.models import weights as weight_files


class ResNetStages(nn.Module):
    """stem + layer1..layer4 of a torchvision ResNet; `forward_stages` returns all four maps."""

    def __init__(self, name: str = "resnet50", last_stride: int = 2, pretrained: str = "none"):
        super().__init__()
        net = getattr(tvm, name)(weights=None)
        self.pretrained, self.weights = pretrained, None
        if pretrained == "imagenet":
            state, self.weights = weight_files.load_published(f"imagenet:{name}")
            net.load_state_dict(state)
        elif pretrained != "none":
            self.weights = weight_files.load_file(pretrained, net)
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
