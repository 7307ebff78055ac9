import pytest
import yaml

from attnreid import config
from attnreid.errors import InputError
from conftest import ROOT

RAW = yaml.safe_load((ROOT / "params.yaml").read_text())


def write(tmp_path, doc):
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


@pytest.mark.parametrize("profile", config.PROFILES)
def test_every_profile_resolves(profile):
    params = config.load(ROOT / "params.yaml", profile)
    assert params["profile"] == profile and "profiles" not in params


def test_profile_overrides_are_merged_not_replaced():
    smoke = config.load(ROOT / "params.yaml", "smoke")
    assert smoke["cell_override"]["backbone"] == RAW["profiles"]["smoke"]["cell_override"]["backbone"]
    assert smoke["train"]["optimizer"] == RAW["train"]["optimizer"]  # untouched base key survives
    assert smoke["resources"]["train"]["mem_mb"] == RAW["resources"]["train"]["mem_mb"]


@pytest.mark.parametrize("edit, key", [
    (lambda d: d["train"].update(lrr=0.1), "train.lrr: unknown key"),
    (lambda d: d["train"].update(epochs="ten"), "train.epochs"),
    (lambda d: d.update(bogus=1), "bogus: unknown key"),
    (lambda d: d["profiles"]["smoke"]["cell_override"].update(epoch=1), "profiles.smoke.cell_override.epoch: unknown key"),
    (lambda d: d["eval"]["rerank"].update(k1=0), "eval.rerank.k1"),
    (lambda d: d["methods"].update({"Bad Name": {"model": "baseline"}}), "methods"),
    (lambda d: d["datasets"]["synth-market"]["synth"].update(num_ids=3), "datasets.synth-market.synth.num_ids: unknown key"),
    (lambda d: d["datasets"]["synth-market"]["synth"].update(height=0), "datasets.synth-market.synth.height"),
])
def test_bad_params_name_the_key(tmp_path, edit, key):
    import copy

    doc = copy.deepcopy(RAW)
    edit(doc)
    with pytest.raises(InputError) as err:
        config.load(write(tmp_path, doc))
    assert key in str(err.value) and "\n" not in str(err.value)


def test_unknown_profile(tmp_path):
    with pytest.raises(InputError, match="unknown profile 'huge'"):
        config.load(ROOT / "params.yaml", "huge")


def test_deep_merge_does_not_alias():
    base = {"a": {"b": [1]}}
    out = config.deep_merge(base, {"a": {"c": 2}})
    out["a"]["b"].append(2)
    assert base == {"a": {"b": [1]}} and out["a"]["c"] == 2
