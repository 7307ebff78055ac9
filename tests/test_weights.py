"""Weights: ImageNet files only from the torch cache (hash-checked), fetched by `attnreid fetch-weights`
(torch.hub's download with the published hash, served here by a fake), state_dict files matched to
the backbone by key, and the file each cell started from recorded in run.json."""
from __future__ import annotations

import hashlib
import io
import json
import re
from types import SimpleNamespace

import pytest
import torch
import torchvision
import yaml

from attnreid.cli import main as cli
from attnreid.data.datasets import prepare
from attnreid.errors import InputError
from attnreid.models.bases import backbone as bb
from attnreid.models import weights
from conftest import ROOT, write_market


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An empty torch cache."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return tmp_path / "hub" / "checkpoints"


def _bytes(state: dict) -> bytes:
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


@pytest.fixture
def published_resnet18(monkeypatch):
    """A made-up resnet18 'ImageNet' file and torchvision's record of it, with its hash prefix in the name."""
    state = torchvision.models.resnet18().state_dict()
    data = _bytes(state)
    url = f"https://download.example/models/resnet18-{hashlib.sha256(data).hexdigest()[:8]}.pth"
    real = weights.published
    monkeypatch.setattr(weights, "published", lambda key: SimpleNamespace(url=url) if key == "imagenet:resnet18"
                        else real(key))
    return state, data, url


def test_imagenet_missing_is_one_line_naming_the_file_and_the_fetch_command(hub):
    with pytest.raises(InputError) as err:
        bb.ResNetStages("resnet18", 2, "imagenet")
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(str(hub / "resnet18-f37072fd.pth"))
    assert msg.endswith("attnreid fetch-weights --only imagenet:resnet18")


def test_imagenet_from_the_cache_is_loaded_and_recorded(hub, published_resnet18):
    state, data, url = published_resnet18
    hub.mkdir(parents=True)
    (hub / url.rsplit("/", 1)[1]).write_bytes(data)
    net = bb.ResNetStages("resnet18", 1, "imagenet")
    assert torch.equal(net.stem[0].weight, state["conv1.weight"])
    assert net.pretrained == "imagenet"
    assert net.weights == {"source": "imagenet:resnet18", "file": url.rsplit("/", 1)[1],
                           "sha256": hashlib.sha256(data).hexdigest()}


def test_a_cached_file_that_differs_from_its_published_hash_is_refused(hub, published_resnet18):
    _, data, url = published_resnet18
    hub.mkdir(parents=True)
    (hub / url.rsplit("/", 1)[1]).write_bytes(data + b"x")
    with pytest.raises(InputError, match=r"does not match the published hash \w{8}; delete it and run: "
                                         r"attnreid fetch-weights --only imagenet:resnet18$"):
        bb.ResNetStages("resnet18", 2, "imagenet")


class _Response(io.BytesIO):
    """What torch.hub's urlopen returns, enough for download_url_to_file."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}

    def info(self):
        return SimpleNamespace(get_all=lambda name: [str(len(self.getvalue()))])


def test_fetch_weights_checks_torchvisions_published_hash(hub, published_resnet18, monkeypatch, capsys):
    _, data, url = published_resnet18
    served = {"bytes": data + b"tampered"}
    monkeypatch.setattr(torch.hub, "urlopen", lambda req, **kw: _Response(served["bytes"]))
    assert cli(["fetch-weights", "--only", "imagenet:resnet18"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith(f"attnreid: error: {url}:") and "nothing written" in err
    assert not hub.exists() or not any(hub.iterdir())  # no partial, no file
    served["bytes"] = data
    assert cli(["fetch-weights", "--only", "imagenet:resnet18"]) == 0
    assert (hub / url.rsplit("/", 1)[1]).read_bytes() == data
    assert "imagenet:resnet18: fetched" in capsys.readouterr().out
    assert weights.fetch("imagenet:resnet18")[1] == "present"


def test_fetch_weights_of_a_profile_lists_what_its_cells_need():
    from attnreid import preflight
    from conftest import params_grid

    assert preflight.weight_keys(params_grid("paper")) == ["imagenet:resnet50"]
    assert preflight.weight_keys(params_grid("smoke")) == []


def _save(path, state):
    torch.save(state, path)
    return path


def test_a_reid_checkpoint_with_backbone_prefix_loads_deliberately(tmp_path):
    """This project's model.pt: {'model': {'backbone.stem.0.weight', ..., 'classifier.weight'}}."""
    src = bb.ResNetStages("resnet18", 2, "none")
    state = {f"backbone.{k}": v for k, v in src.state_dict().items()}
    state["classifier.weight"] = torch.zeros(5, 512)
    path = _save(tmp_path / "reid.pt", {"model": state, "meta": {"epochs": 3}})
    net = bb.ResNetStages("resnet18", 2, str(path))
    assert torch.equal(net.stem[0].weight, src.stem[0].weight)
    assert torch.equal(net.layer4[1].bn2.running_mean, src.layer4[1].bn2.running_mean)
    assert (net.weights["missing"], net.weights["unexpected"], net.weights["stripped"]) == (0, 1, ["backbone."])
    assert net.weights["file"] == str(path) and len(net.weights["sha256"]) == 64


def test_a_weights_file_whose_pickle_would_run_code_is_refused_in_one_line(tmp_path):
    from test_safe_load import REFUSED, RunsCode

    marker = tmp_path / "marker"
    path = _save(tmp_path / "evil.pth", {"state_dict": {}, "hook": RunsCode(marker)})
    with pytest.raises(InputError, match=rf"^{re.escape(str(path))}: {REFUSED}.*not a weights file.*train\.pretrained$"):
        bb.ResNetStages("resnet18", 2, str(path))
    assert not marker.exists()


def test_a_dataparallel_torchvision_file_loads(tmp_path):
    state = torchvision.models.resnet18().state_dict()
    path = _save(tmp_path / "dp.pth", {"state_dict": {f"module.{k}": v for k, v in state.items()}})
    net = bb.ResNetStages("resnet18", 2, str(path))
    assert torch.equal(net.layer1[0].conv1.weight, state["layer1.0.conv1.weight"])
    assert net.weights["stripped"] == ["module."] and net.weights["unexpected"] == 2  # fc.weight, fc.bias


def test_a_file_with_other_key_names_is_refused_with_the_counts(tmp_path):
    state = {f"encoder.{k}": v for k, v in torchvision.models.resnet18().state_dict().items()}
    path = _save(tmp_path / "other.pth", state)
    with pytest.raises(InputError) as err:
        bb.ResNetStages("resnet18", 2, str(path))
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"{path}: 120 of 120 backbone weights missing")
    assert "122 unexpected keys" in msg and msg.endswith("refusing to train from a partial backbone")


def test_a_file_with_a_tensor_of_another_shape_is_refused(tmp_path):
    state = torchvision.models.resnet18().state_dict()
    state["layer1.0.conv1.weight"] = torch.zeros(3, 3)
    with pytest.raises(InputError, match=r"0 of 120 backbone weights missing, 1 of another shape.*"
                                         r"first: layer1.0.conv1.weight"):
        bb.ResNetStages("resnet18", 2, str(_save(tmp_path / "shape.pth", state)))


@pytest.fixture
def tiny_project(tmp_path, monkeypatch):
    """The smoke profile at 1 epoch over a tiny prepared set, in a scratch cwd."""
    monkeypatch.chdir(tmp_path)
    write_market(tmp_path / "raw", n_ids=4, cams=2, per_cam=2, size=(64, 32))
    prepare("toy", {"kind": "market1501", "check_counts": False}, tmp_path / "raw", tmp_path / "index.csv")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["profiles"]["smoke"]["cell_override"].update(epochs=1, milestones=[1], warmup_epochs=0)
    return tmp_path, params


def _train(params, root) -> int:
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return cli(["train", "--profile", "smoke", "--cell", "synth-market/baseline/s0", "--index", str(root / "index.csv"),
                "--pseudo", str(root / "pseudo"), "--out", str(root / "run" / "model.pt"), "--threads", "1"])


def test_run_json_records_the_weight_file_a_cell_started_from(tiny_project, one_thread):
    root, params = tiny_project
    src = _save(root / "init.pth", torchvision.models.resnet18().state_dict())
    params["profiles"]["smoke"]["cell_override"]["pretrained"] = str(src)
    assert _train(params, root) == 0
    record = json.loads((root / "run" / "run.json").read_text())
    assert record["pretrained"] == str(src)
    assert record["weights"]["sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()
    assert record["weights"]["missing"] == 0


def test_a_paper_like_cell_without_its_weights_fails_at_once(tiny_project, hub, capsys):
    root, params = tiny_project
    params["profiles"]["smoke"]["cell_override"]["pretrained"] = "imagenet"
    assert _train(params, root) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"attnreid: error: {hub / 'resnet18-f37072fd.pth'}: imagenet:resnet18 weights not found")
    assert not (root / "run").exists() or not any((root / "run").iterdir())  # nothing half-written
