"""Model arguments from params.yaml `methods.<m>.args`: defaults merged, unknown keys refused."""
from __future__ import annotations

from attnreid.errors import InputError


def model_args(cell_cfg: dict, defaults: dict) -> dict:
    args = cell_cfg.get("args", {})
    for key, val in args.items():
        if key not in defaults:
            raise InputError(f"params.yaml: methods.{cell_cfg['method']}.args.{key}: unknown key (have {sorted(defaults)})")
        if defaults[key] is not None and not isinstance(val, type(defaults[key])):
            raise InputError(f"params.yaml: methods.{cell_cfg['method']}.args.{key}: expected {type(defaults[key]).__name__}")
    return {**defaults, **args}
