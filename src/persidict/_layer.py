"""Helpers shared by the layers: wrappers that hold the dict they extend."""

from __future__ import annotations

from typing import Any

from .base import PersiDict


def check_is_dict(name: str, value: Any) -> None:
    """Raise ``TypeError`` unless ``value`` is a ``PersiDict``."""
    if not isinstance(value, PersiDict):
        raise TypeError(
            f"{name} must be a PersiDict, got {type(value).__name__}: {value!r}"
        )


def inherited_params(inner: PersiDict[Any]) -> dict[str, Any]:
    """Return the base parameters a layer takes over from the dict it wraps."""
    return {
        "serialization_format": inner.serialization_format,
        "append_only": inner.append_only,
        "base_class_for_values": inner.base_class_for_values,
    }
