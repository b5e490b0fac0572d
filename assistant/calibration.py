"""The re-ranker's weights, the confidence model and the abstention threshold.

Fitted by ``python -m evals.calibrate --write`` into ``assistant/calibration.json`` (shipped),
or any file named by ``KB_CALIBRATION_FILE``. Loaded when an assistant opens, never at import;
a missing or malformed file is a :class:`~core.errors.ConfigError` naming the file and the
field, never a silent fallback.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ConfigError

SHIPPED = Path(__file__).with_name("calibration.json")
#: what the re-ranker and the confidence score can weigh (``bias`` is the intercept)
FEATURES = frozenset({"dense", "dense2", "lexical", "lex_raw", "title", "title_cos", "coverage",
                      "exact",
                      "margin", "dense_margin", "bias"})


@dataclass(frozen=True)
class Calibration:
    weights: dict[str, float]
    confidence: dict[str, float]
    threshold: float
    source: str


def _weights(path: Path, data: dict[str, Any], field: str) -> dict[str, float]:
    value = data.get(field)
    if not isinstance(value, dict) or not value:
        raise ConfigError(f"{path}: '{field}' must be an object of feature weights")
    out = {}
    for name, weight in value.items():
        if name not in FEATURES:
            raise ConfigError(f"{path}: '{field}.{name}' is not a feature kb computes "
                              f"({', '.join(sorted(FEATURES))})")
        if isinstance(weight, bool) or not isinstance(weight, int | float) \
                or not math.isfinite(weight):
            raise ConfigError(f"{path}: '{field}.{name}' must be a number, not {weight!r}")
        out[name] = float(weight)
    return out


def load_calibration(path: Path | None = None) -> Calibration:
    """Read and check a calibration file (default: the shipped one)."""
    path = path or SHIPPED
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: calibration file not found (KB_CALIBRATION_FILE names "
                          "another; 'python -m evals.calibrate --write' fits one)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: calibration file cannot be read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a JSON object with weights, confidence, threshold")
    weights = _weights(path, data, "weights")
    if "lexical" not in weights:
        raise ConfigError(f"{path}: 'weights.lexical' is required (it scores each passage)")
    threshold = data.get("threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) \
            or not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"{path}: 'threshold' must be a number from 0 to 1, not "
                          f"{threshold!r}")
    return Calibration(weights, _weights(path, data, "confidence"), float(threshold), str(path))
