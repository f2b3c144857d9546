"""``OverlappingMultiDict``: several formats side by side in one store."""

from __future__ import annotations

from typing import Any, NoReturn

from .base import PersiDict

__all__ = ["OverlappingMultiDict"]


class OverlappingMultiDict:
    """One sub-dict per serialization format, all over the same store.

    ``OverlappingMultiDict(dict_type=FileDirDict, shared_subdicts_params=
    {"base_dir": path}, json={}, pkl={"append_only": True})`` gives ``.json``
    and ``.pkl``, each a ``FileDirDict`` on ``path``. Each sub-dict sees,
    iterates and clears only the items of its own format, so one key can
    hold a value in each format. The container itself holds no items: item
    access on it raises ``TypeError``.
    """

    def __init__(
        self,
        *,
        dict_type: type[PersiDict[Any]],
        shared_subdicts_params: dict[str, Any],
        **individual_subdicts_params: dict[str, Any],
    ) -> None:
        if not (isinstance(dict_type, type) and issubclass(dict_type, PersiDict)):
            raise TypeError(
                f"dict_type must be a PersiDict subclass, got {dict_type!r}"
            )
        if not isinstance(shared_subdicts_params, dict):
            raise TypeError(
                "shared_subdicts_params must be a dict of constructor arguments, "
                f"got {shared_subdicts_params!r}"
            )
        if not individual_subdicts_params:
            raise ValueError(
                "name at least one format, e.g. OverlappingMultiDict(..., json={})"
            )
        self.dict_type = dict_type
        self.shared_subdicts_params = dict(shared_subdicts_params)
        self.individual_subdicts_params = {}
        self._subdicts: dict[str, PersiDict[Any]] = {}
        for name, params in individual_subdicts_params.items():
            if not isinstance(params, dict):
                raise TypeError(
                    f"the parameters of format {name!r} must be a dict, got {params!r}"
                )
            if "serialization_format" in params:
                raise ValueError(
                    f"the format of sub-dict {name!r} is its name; remove "
                    "serialization_format from its parameters"
                )
            self.individual_subdicts_params[name] = dict(params)
            merged = {
                **self.shared_subdicts_params,
                **params,
                "serialization_format": name,
            }
            subdict = dict_type(**merged)
            self._subdicts[name] = subdict
            setattr(self, name, subdict)

    def get_params(self) -> dict[str, Any]:
        return {
            "dict_type": self.dict_type,
            "shared_subdicts_params": self.shared_subdicts_params,
            **self.individual_subdicts_params,
        }

    @property
    def subdicts_by_format(self) -> dict[str, PersiDict[Any]]:
        """The sub-dicts, by format name."""
        return dict(self._subdicts)

    def __getattr__(self, name: str) -> Any:
        # Only reached for names that are not attributes. It declares the
        # per-format sub-dicts that __init__ sets, for type checkers.
        if name.startswith("_"):
            raise AttributeError(name)
        raise AttributeError(
            f"{type(self).__name__} has no format {name!r}; it has "
            f"{', '.join(sorted(self._subdicts)) or 'none'}"
        )

    def _no_items(self, *args: Any) -> NoReturn:
        raise TypeError(
            "an OverlappingMultiDict holds no items itself; use one of its "
            f"per-format sub-dicts: {', '.join(sorted(self._subdicts))}"
        )

    __getitem__ = _no_items
    __setitem__ = _no_items
    __delitem__ = _no_items
    __contains__ = _no_items
    __iter__ = _no_items
    __len__ = _no_items

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.get_params(),))

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={d!r}" for name, d in self._subdicts.items())
        return f"{type(self).__name__}({inner})"


def _rebuild(params: dict[str, Any]) -> OverlappingMultiDict:
    return OverlappingMultiDict(**params)
