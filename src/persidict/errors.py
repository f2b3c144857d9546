"""The exceptions persidict raises besides the standard ones."""

from __future__ import annotations

from typing import Any

__all__ = [
    "BackendError",
    "ConcurrencyConflictError",
    "CorruptValueError",
    "MutationPolicyError",
]


class MutationPolicyError(TypeError):
    """A write that the dict's policy forbids, such as changing an item of an
    append-only dict. ``policy`` is ``"append-only"`` or ``"write-once"``."""

    def __init__(self, policy: str, message: str | None = None, *, key: Any = None):
        super().__init__(message or f"the {policy} policy forbids this operation")
        self.policy = policy
        self.key = key


class ConcurrencyConflictError(RuntimeError):
    """A read-modify-write that lost to concurrent writers on every attempt."""

    def __init__(self, key: Any, attempts: int) -> None:
        super().__init__(
            f"key {key!r} was changed by another writer on each of {attempts} "
            "attempts; retry later or allow more retries with n_retries"
        )
        self.key = key
        self.attempts = attempts


class BackendError(RuntimeError):
    """A storage failure that is not a missing key: the original error is the
    ``__cause__``; ``backend``, ``operation`` and ``key`` tell where it happened."""

    def __init__(
        self, message: str, *, backend: str, operation: str, key: Any = None
    ) -> None:
        super().__init__(message)
        self.backend = backend
        self.operation = operation
        self.key = key


class CorruptValueError(BackendError):
    """A stored value that cannot be decoded; ``location`` is its file path or
    object URL. Other keys stay readable."""

    def __init__(self, message: str, *, backend: str, key: Any, location: str) -> None:
        super().__init__(message, backend=backend, operation="read", key=key)
        self.location = location
