"""Serialization formats: one place that turns values into bytes and back.

``pkl`` is pickle, ``json`` is UTF-8 JSON through jsonpickle, and any other
format name is UTF-8 text. Every backend uses these codecs, so a value
round-trips the same way whatever stores it.
"""

from __future__ import annotations

import io
import json
import pickle
from typing import Any, Final, Protocol

__all__ = ["Codec", "get_codec"]

# Protocol 5 is read by every Python this package supports (3.8 and newer).
PICKLE_PROTOCOL: Final = 5

# An LZ4 frame starts with these bytes; the public persidict package writes
# its pkl files as LZ4-compressed joblib pickles.
_LZ4_FRAME_MAGIC: Final = b"\x04\x22\x4d\x18"


class Codec(Protocol):
    """Encoder and decoder of one serialization format."""

    name: str

    def encode(self, value: Any) -> bytes: ...

    def decode(self, data: bytes) -> Any: ...


class PickleCodec:
    name = "pkl"

    def encode(self, value: Any) -> bytes:
        return pickle.dumps(value, protocol=PICKLE_PROTOCOL)

    def decode(self, data: bytes) -> Any:
        if data[:4] == _LZ4_FRAME_MAGIC:
            return _load_legacy_pickle(data)
        return pickle.loads(data)


def _load_legacy_pickle(data: bytes) -> Any:
    try:
        import joblib  # type: ignore[import-untyped,import-not-found,unused-ignore]
        import lz4  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: F401
    except ImportError as err:
        raise ImportError(
            "this value is an LZ4-compressed joblib pickle written by the public "
            "persidict package; install the 'legacy' extra to read it: "
            "pip install 'persidict[legacy]'"
        ) from err
    return joblib.load(io.BytesIO(data))


class JsonCodec:
    """JSON with jsonpickle tags only where plain JSON would lose information.

    JSON-native values (str keys, lists, numbers, strings, booleans, None)
    become plain JSON; tuples, sets, non-string dict keys and objects round-trip
    exactly through jsonpickle's ``py/...`` tags.
    """

    name = "json"

    def __init__(self) -> None:
        # jsonpickle is imported here, not at module import, so that
        # `import persidict` stays light for users of the other formats.
        import jsonpickle  # type: ignore[import-untyped,unused-ignore]

        self._jsonpickle = jsonpickle

    def encode(self, value: Any) -> bytes:
        if _is_plain_json(value):
            text = json.dumps(value, indent=4, ensure_ascii=False)
        else:
            _reject_reserved_keys(value)
            text = self._jsonpickle.encode(value, keys=True, indent=4)
        return text.encode()

    def decode(self, data: bytes) -> Any:
        text = data.decode()
        if '"py/' not in text and '"json://' not in text:
            return json.loads(text)
        return self._jsonpickle.decode(text, keys=True)


def _is_plain_json(value: Any, depth: int = 0) -> bool:
    """Tell whether ``json`` alone round-trips ``value`` exactly."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is float:
        # NaN and the infinities are not valid JSON; jsonpickle tags them.
        return bool(value == value and value not in (float("inf"), float("-inf")))
    if depth > 50:
        return False
    if kind is list:
        return all(_is_plain_json(item, depth + 1) for item in value)
    if kind is dict:
        return all(
            type(k) is str
            and not k.startswith(("py/", "json://"))
            and _is_plain_json(v, depth + 1)
            for k, v in value.items()
        )
    return False


_RESERVED_PREFIXES: Final = ("py/", "json://")


def _reject_reserved_keys(value: Any, depth: int = 0) -> None:
    """Raise ``ValueError`` for a dict key that jsonpickle reads as a tag.

    jsonpickle does not escape such keys, so ``{"py/tuple": [1]}`` would come
    back as a tuple: refusing it is better than changing the value.
    """
    if depth > 100:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and key.startswith(_RESERVED_PREFIXES):
                raise ValueError(
                    f"the json format cannot store the dict key {key!r}: keys "
                    "starting with 'py/' or 'json://' are jsonpickle tags; "
                    "rename the key or use the pkl format"
                )
            _reject_reserved_keys(item, depth + 1)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            _reject_reserved_keys(item, depth + 1)


class TextCodec:
    """Plain UTF-8 text; the values must be ``str``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def encode(self, value: Any) -> bytes:
        if not isinstance(value, str):
            raise TypeError(
                f"the {self.name!r} format stores text, got {type(value).__name__}"
            )
        return value.encode()

    def decode(self, data: bytes) -> Any:
        return data.decode()


_PICKLE: Final = PickleCodec()
_json_codec: JsonCodec | None = None


def get_codec(serialization_format: str) -> Codec:
    """Return the codec of a format name: ``pkl``, ``json`` or a text format."""
    global _json_codec
    if serialization_format == "pkl":
        return _PICKLE
    if serialization_format == "json":
        if _json_codec is None:
            _json_codec = JsonCodec()
        return _json_codec
    return TextCodec(serialization_format)
