"""Contract: random sequences of mapping operations behave as on a ``dict``."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from persidict import DELETE_CURRENT, KEEP_CURRENT

# Keys that differ only in case, and keys that are prefixes of others.
KEYS = [("a",), ("A",), ("a", "b"), ("a", "B"), ("a", "b", "c"), ("d", "e")]

keys = st.sampled_from(KEYS)
indexes = st.integers(min_value=0, max_value=3)


def build_machine(make_dict, values):
    class DictModel(RuleBasedStateMachine):
        """Apply each operation to a PersiDict and to a plain dict model."""

        def __init__(self) -> None:
            super().__init__()
            self.d = make_dict()
            self.model = {}

        @rule(key=keys, index=indexes)
        def set_item(self, key, index):
            self.d[key] = values.make(index)
            self.model[key] = values.make(index)

        @rule(key=keys)
        def delete_item(self, key):
            if key in self.model:
                del self.d[key]
                del self.model[key]
            else:
                with pytest.raises(KeyError):
                    del self.d[key]

        @rule(key=keys)
        def get_item(self, key):
            assert self.d.get(key, "missing") == self.model.get(key, "missing")

        @rule(key=keys, index=indexes)
        def set_default(self, key, index):
            assert self.d.setdefault(key, values.make(index)) == (
                self.model.setdefault(key, values.make(index))
            )

        @rule(key=keys)
        def pop_item(self, key):
            assert self.d.pop(key, "missing") == self.model.pop(key, "missing")

        @rule(key=keys)
        def discard_item(self, key):
            assert self.d.discard(key) is (self.model.pop(key, None) is not None)

        @rule(pairs=st.lists(st.tuples(keys, indexes), max_size=3))
        def update_items(self, pairs):
            self.d.update((key, values.make(index)) for key, index in pairs)
            self.model.update((key, values.make(index)) for key, index in pairs)

        @rule(key=keys, delete=st.booleans())
        def write_joker(self, key, delete):
            self.d[key] = DELETE_CURRENT if delete else KEEP_CURRENT
            if delete:
                self.model.pop(key, None)

        @rule()
        def pop_any_item(self):
            if not self.model:
                with pytest.raises(KeyError):
                    self.d.popitem()
                return
            key, value = self.d.popitem()
            assert self.model.pop(key.strings) == value

        @invariant()
        def same_items(self):
            assert len(self.d) == len(self.model)
            assert bool(self.d) is bool(self.model)
            assert dict(self.d.items()) == self.model

    return DictModel


def test_random_operations_match_dict(make_dict, values):
    machine = build_machine(make_dict, values)

    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=15,
            stateful_step_count=15,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
