"""Range checks of configuration values, with the one error message every config uses."""

from __future__ import annotations

from collections.abc import Mapping

from face_perception.core.errors import ConfigError


def check_range(name: str, value: float, low: float, high: float) -> None:
    """Raises ConfigError naming the parameter when ``value`` is outside ``[low, high]``."""
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is out of range [{low}, {high}]")


def check_ranges(checks: Mapping[str, tuple[float, float, float]]) -> None:
    """``check_range`` for each ``name: (value, low, high)``, in order."""
    for name, (value, low, high) in checks.items():
        check_range(name, value, low, high)
