"""Keys: flat tuples of URL- and filename-safe strings."""

from __future__ import annotations

import base64
import hashlib
import re
import string
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any, Final, TypeAlias, overload

__all__ = [
    "NonEmptySafeStrTuple",
    "SafeStrTuple",
    "get_safe_chars",
    "replace_unsafe_chars",
]

_SAFE_CHARS: Final = frozenset(string.ascii_letters + string.digits + "()_-~.=")

# Components must be shorter than this many characters, as in the public
# persidict package. NOTE: a FileDirDict adds a digest suffix and an extension
# to each name, so a component near this limit can exceed the 255-byte file
# name limit of most file systems; FileDirDict then raises ValueError.
MAX_COMPONENT_LENGTH: Final = 254

_SAFE_COMPONENT = re.compile(r"[A-Za-z0-9()_\-~.=]+\Z")


def get_safe_chars() -> set[str]:
    """Return a copy of the characters allowed in a key component."""
    return set(_SAFE_CHARS)


def replace_unsafe_chars(text: str, replace_with: str) -> str:
    """Replace every character of ``text`` outside the safe set."""
    return "".join(c if c in _SAFE_CHARS else replace_with for c in text)


def is_safe_component(text: str) -> bool:
    """Tell whether ``text`` is a valid key component."""
    return (
        len(text) < MAX_COMPONENT_LENGTH
        and _SAFE_COMPONENT.match(text) is not None
        and text not in (".", "..")
    )


def _check_component(text: object) -> str:
    if type(text) is not str:
        if isinstance(text, str):
            text = str(text)
        else:
            raise TypeError(
                f"a key component must be a str, got {type(text).__name__}: {text!r}"
            )
    if is_safe_component(text):
        return text

    if not text:
        rule = "it is empty"
    elif len(text) >= MAX_COMPONENT_LENGTH:
        rule = (
            f"it has {len(text)} characters, and the limit is "
            f"{MAX_COMPONENT_LENGTH - 1}"
        )
    elif text in (".", ".."):
        rule = "'.' and '..' are reserved path names"
    else:
        bad = sorted({c for c in text if c not in _SAFE_CHARS})
        rule = (
            f"it contains {''.join(bad)!r}; allowed are ASCII letters, digits "
            "and ()_-~.= (replace_unsafe_chars() can substitute the others)"
        )
    raise ValueError(f"invalid key component {text[:80]!r}: {rule}")


def _flatten(args: Sequence[Any], out: list[str]) -> None:
    for arg in args:
        if type(arg) is str:
            out.append(_check_component(arg))
        elif isinstance(arg, SafeStrTuple):
            out.extend(arg.strings)
        elif isinstance(arg, str):
            out.append(_check_component(arg))
        elif isinstance(arg, (list, tuple)):
            _flatten(arg, out)
        else:
            raise TypeError(
                "a key is built from strings, SafeStrTuples and lists or tuples "
                f"of them, got {type(arg).__name__}: {arg!r}"
            )


class SafeStrTuple(Sequence[str]):
    """An immutable, flat tuple of safe strings: the hierarchical key type.

    Built from strings, other ``SafeStrTuple`` objects and (nested) lists or
    tuples of those, flattened in order. Equal to a plain tuple of the same
    strings, with the same hash, and not orderable.
    """

    __slots__ = ("strings",)

    strings: tuple[str, ...]

    def __init__(self, *args: Any) -> None:
        if len(args) == 1 and type(args[0]) is str:
            strings: tuple[str, ...] = (_check_component(args[0]),)
        else:
            parts: list[str] = []
            _flatten(args, parts)
            strings = tuple(parts)
        object.__setattr__(self, "strings", strings)
        self._check_length()

    def _check_length(self) -> None:
        pass

    @classmethod
    def _trusted(cls, strings: tuple[str, ...]) -> Any:
        """Build from components that are already known to be valid."""
        result = object.__new__(cls)
        object.__setattr__(result, "strings", strings)
        return result

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __len__(self) -> int:
        return len(self.strings)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> SafeStrTuple: ...

    def __getitem__(self, index: int | slice) -> str | SafeStrTuple:
        if isinstance(index, slice):
            part = self.strings[index]
            if part and isinstance(self, NonEmptySafeStrTuple):
                return NonEmptySafeStrTuple._trusted(part)  # type: ignore[no-any-return]
            return SafeStrTuple._trusted(part)  # type: ignore[no-any-return]
        return self.strings[index]

    def __iter__(self) -> Iterator[str]:
        return iter(self.strings)

    def __contains__(self, item: object) -> bool:
        return item in self.strings

    def __hash__(self) -> int:
        return hash(self.strings)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SafeStrTuple):
            return self.strings == other.strings
        if isinstance(other, tuple):
            return self.strings == other
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __add__(self, other: object) -> SafeStrTuple:
        if not isinstance(other, (SafeStrTuple, tuple, list, str)):
            return NotImplemented
        return type(self)(self, other)

    def __radd__(self, other: object) -> SafeStrTuple:
        if not isinstance(other, (tuple, list, str)):
            return NotImplemented
        return type(self)(other, self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(map(repr, self.strings))})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), self.strings)


class NonEmptySafeStrTuple(SafeStrTuple):
    """A ``SafeStrTuple`` with at least one string; every key is one."""

    __slots__ = ()

    def _check_length(self) -> None:
        if not self.strings:
            raise ValueError("a key needs at least one string, got an empty one")


KeyLike: TypeAlias = "NonEmptySafeStrTuple | str | Sequence[str]"
PrefixLike: TypeAlias = "SafeStrTuple | str | Sequence[str]"


# Valid keys already normalised, by their str or tuple form; dropped whole
# when full. Only valid keys are stored, so a lookup never skips a check.
_NORMALIZED_CACHE_SIZE: Final = 65536
_normalized: dict[object, NonEmptySafeStrTuple] = {}


def normalize_key(key: object) -> NonEmptySafeStrTuple:
    """Turn any accepted key form into a ``NonEmptySafeStrTuple``.

    Raises ``TypeError`` for a value that is not a key at all (a number, a
    mapping, ``None``) and ``ValueError`` for a key with an invalid string.
    """
    kind = type(key)
    if kind is NonEmptySafeStrTuple:
        return key  # type: ignore[return-value]
    if kind is str or kind is tuple:
        # Keys repeat, and checking one costs more than a dict lookup.
        try:
            known = _normalized.get(key)
        except TypeError:
            known = None  # a tuple holding a list
        if known is not None:
            return known
        result = (
            NonEmptySafeStrTuple._trusted((_check_component(key),))
            if kind is str
            else NonEmptySafeStrTuple(key)
        )
        if len(_normalized) >= _NORMALIZED_CACHE_SIZE:
            _normalized.clear()
        _normalized[key] = result
        return result
    if isinstance(key, (SafeStrTuple, tuple, list, str)):
        return NonEmptySafeStrTuple(key)
    raise TypeError(
        "a key must be a str, a sequence of str or a SafeStrTuple, "
        f"got {kind.__name__}: {key!r}"
    )


def normalize_prefix(prefix: object) -> SafeStrTuple:
    """Turn a prefix, which may be empty, into a ``SafeStrTuple``."""
    if isinstance(prefix, (SafeStrTuple, tuple, list, str)):
        return SafeStrTuple(prefix)
    raise TypeError(
        "a prefix must be a str, a sequence of str or a SafeStrTuple, "
        f"got {type(prefix).__name__}: {prefix!r}"
    )


@lru_cache(maxsize=65536)
def digest_suffix(component: str, digest_len: int) -> str:
    """Return ``_`` plus the first ``digest_len`` characters of the lower-cased
    base32 MD5 digest of ``component``; the empty string when ``digest_len`` is 0.

    The suffix keeps keys that differ only in case apart on case-insensitive
    file systems. MD5 is used as a fingerprint here, not for security.
    """
    if digest_len <= 0:
        return ""
    digest = hashlib.md5(component.encode(), usedforsecurity=False).digest()
    return "_" + base64.b32encode(digest).decode()[:digest_len].lower()


def add_digest(component: str, digest_len: int) -> str:
    """Return the stored name of a component: the component plus its suffix."""
    return component + digest_suffix(component, digest_len)


def strip_digest(name: str, digest_len: int) -> str | None:
    """Return the component stored under ``name``, or ``None`` if ``name`` is
    not one: a foreign name, or one whose suffix does not match."""
    if digest_len > 0:
        component = name[: -(digest_len + 1)]
        if (
            not component
            or digest_suffix(component, digest_len) != name[len(component) :]
        ):
            return None
    else:
        component = name
    if not is_safe_component(component):
        return None
    return component
