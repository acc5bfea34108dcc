"""One JSON sanitiser for every sidecar, API answer and jam record riffgen writes."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from typing import Any

import numpy as np


def to_jsonable(value: Any) -> Any:
    """Dataclasses, numpy scalars/arrays and tuples -> plain JSON types (recursively)."""
    if hasattr(value, "__dataclass_fields__") and not isinstance(value, type):
        return to_jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def jsonable_only(params: dict[str, Any] | None) -> dict[str, Any]:
    """The entries of ``params`` that survive ``json.dumps`` (images, arrays, objects dropped).

    Non-finite floats are dropped too: JSON has no NaN or infinity.
    """
    out: dict[str, Any] = {}
    for key, value in to_jsonable(dict(params or {})).items():
        if isinstance(value, float) and not math.isfinite(value):
            continue
        if value is None or isinstance(value, str | int | float | bool):
            out[key] = value
        elif isinstance(value, dict | list):
            try:
                json.dumps(value, allow_nan=False)
            except (TypeError, ValueError):
                continue
            out[key] = value
    return out
