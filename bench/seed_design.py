"""The seed design's validators, shared by the file and stream benchmarks (same-run baselines).

The seed cached one python-``jsonschema`` ``Draft7Validator`` per contract version, with no
format checker and no business rules.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["contract_schemas", "seed_validators"]


def contract_schemas(contracts_dir: Path) -> dict[str, dict[str, Any]]:
    """``name@version`` and ``name`` (latest) -> the contract's JSON Schema."""
    import yaml

    by_name: dict[str, dict[tuple[int, ...], dict[str, Any]]] = {}
    for path in sorted(contracts_dir.glob("*.yaml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        schema = spec.get("schema")
        if spec.get("schema_file"):
            schema = json.loads((path.parent / spec["schema_file"]).read_text(encoding="utf-8"))
        version = tuple(int(p) for p in str(spec["version"]).split("."))
        by_name.setdefault(spec["name"], {})[version] = schema
    out: dict[str, dict[str, Any]] = {}
    for name, versions in by_name.items():
        for version, schema in versions.items():
            out[f"{name}@{'.'.join(map(str, version))}"] = schema
        out[name] = versions[max(versions)]
    return out


def seed_validators(contracts_dir: Path) -> dict[str, Any]:
    """``name@version`` and ``name`` (latest) -> Draft7Validator, as the seed cached them."""
    from jsonschema import Draft7Validator

    return {tag: Draft7Validator(schema) for tag, schema in contract_schemas(contracts_dir).items()}
