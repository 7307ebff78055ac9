"""params.yaml: load, validate against the schema, merge the selected profile.

The raw file is validated before merging, so a typo anywhere (a profile included) stops the run
with one line naming the key. The profile is a partial params document deep-merged over the base.
"""
from __future__ import annotations

import copy
import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from attnreid.errors import InputError

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "params.schema.yaml"
PROFILES = ("smoke", "default", "paper")


def deep_merge(base: dict, over: dict) -> dict:
    """Return base with `over` merged in: dicts recursively, everything else replaced."""
    out = copy.deepcopy(base)
    for key, val in over.items():
        if isinstance(val, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], val)
        else:
            out[key] = copy.deepcopy(val)
    return out


@lru_cache(maxsize=1)
def _schema() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def _key_path(err: jsonschema.ValidationError) -> str:
    parts = [str(p) for p in err.absolute_path]
    if err.validator == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        return ".".join(parts + extra[:1]) + ": unknown key"
    if err.validator == "required":
        return ".".join(parts) + f": {err.message}"
    return ".".join(parts) + f": {err.message}"


def validate(raw: dict, source: str = "params.yaml") -> None:
    """Validate a raw params document; raise InputError naming the first bad key."""
    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(raw), key=lambda e: (len(e.absolute_path), str(e.absolute_path)))
    if errors:
        best = jsonschema.exceptions.best_match(errors) if len(errors) > 1 else errors[0]
        raise InputError(f"{source}: {_key_path(best)}")


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader refusing a key given twice in one mapping: YAML keeps the last silently, so two
    `methods:` (or `datasets:`) entries of one name would be one cell id for two configs."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"line {key_node.start_mark.line + 1}: duplicate key '{key}'", None)
            seen.add(key)
        return super().construct_mapping(node, deep)


def load_raw(path: str | Path = "params.yaml") -> dict:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: params file not found")
    try:
        raw = yaml.load(path.read_text(), Loader=_UniqueKeyLoader) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    validate(raw, str(path))
    return raw


def resolve(raw: dict, profile: str | None = None) -> dict:
    """Merge `profiles.<profile>` (default: the file's `profile`) over the base document."""
    profile = profile or raw["profile"]
    if profile not in raw.get("profiles", {}):
        raise InputError(f"params.yaml: profile: unknown profile '{profile}' (have {sorted(raw['profiles'])})")
    merged = deep_merge({k: v for k, v in raw.items() if k != "profiles"}, raw["profiles"][profile])
    merged["profile"] = profile
    validate(merged, f"params.yaml (profile {profile})")
    _check_synth_knobs(merged)
    return merged


def _check_synth_knobs(params: dict) -> None:
    """synthreid knobs are checked by SynthConfig itself (one source for their names and ranges)."""
    from attnreid.data.synthreid import SynthConfig

    for name, ds in params["datasets"].items():
        if ds.get("kind") == "synthreid":
            try:
                SynthConfig.from_dict(ds.get("synth", {}), where=f"datasets.{name}.synth")
            except ValueError as err:
                raise InputError(str(err)) from None


def load(path: str | Path = "params.yaml", profile: str | None = None) -> dict:
    """The resolved params for one profile."""
    return resolve(load_raw(path), profile)


def digest(obj: Any) -> str:
    """A short stable hash of a JSON-able object (config hashes, cache keys)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]
