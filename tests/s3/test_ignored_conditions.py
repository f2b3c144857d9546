"""A server that ignores conditional headers: detected once, then a fallback.

The fault is injected on the client side: a botocore hook removes
If-Match and If-None-Match from every request before it is signed, so
SeaweedFS sees plain writes, as a server without conditional writes would.
"""

from __future__ import annotations

import logging
import threading

import pytest

from persidict import (
    ETAG_IS_THE_SAME,
    ITEM_NOT_AVAILABLE,
    BasicS3Dict,
    MutationPolicyError,
)

from .helpers import race_in_processes
from .workers import insert_without_conditions, strip_conditions

pytestmark = pytest.mark.s3

WRITERS = 8


@pytest.fixture
def deaf_dict(bucket):
    """A BasicS3Dict whose conditional headers never reach the server."""

    def make(**overrides):
        d = BasicS3Dict(bucket_name=bucket, root_prefix="deaf", **overrides)
        d.client.meta.events.register("before-sign.s3", strip_conditions)
        return d

    return make


def test_ignored_conditions_logged_once(deaf_dict, caplog):
    d = deaf_dict()
    with caplog.at_level(logging.WARNING, logger="persidict.s3_dict"):
        d.set_item_if(
            "a", value=1, condition=ETAG_IS_THE_SAME, expected_etag=ITEM_NOT_AVAILABLE
        )
        d.set_item_if(
            "b", value=2, condition=ETAG_IS_THE_SAME, expected_etag=ITEM_NOT_AVAILABLE
        )

    warnings = [r for r in caplog.records if "ignores If-None-Match" in r.getMessage()]
    assert len(warnings) == 1
    assert d["a"] == 1
    assert d["b"] == 2


def test_fallback_rejects_stale_etag(deaf_dict):
    d = deaf_dict()
    d["k"] = "first"
    stale = d.etag("k")
    d["k"] = "second"

    result = d.set_item_if(
        "k", value="third", condition=ETAG_IS_THE_SAME, expected_etag=stale
    )

    assert result.condition_was_satisfied is False
    assert d["k"] == "second"


def test_fallback_insert_one_winner(deaf_dict):
    # The fallback holds the key's machine lock, so threads see exactly one
    # winner.
    d = deaf_dict(append_only=True)
    outcomes: list[str] = []
    barrier = threading.Barrier(WRITERS)

    def insert(worker: int) -> None:
        barrier.wait(30)
        try:
            d["new"] = worker
            outcomes.append("inserted")
        except MutationPolicyError:
            outcomes.append("rejected")

    threads = [threading.Thread(target=insert, args=(w,)) for w in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert outcomes.count("inserted") == 1
    assert outcomes.count("rejected") == WRITERS - 1


def test_fallback_conditional_delete(deaf_dict):
    d = deaf_dict()
    d["k"] = "first"
    stale = d.etag("k")
    d["k"] = "second"

    kept = d.discard_if("k", condition=ETAG_IS_THE_SAME, expected_etag=stale)
    removed = d.discard_if("k", condition=ETAG_IS_THE_SAME, expected_etag=d.etag("k"))

    assert kept.condition_was_satisfied is False
    assert removed.condition_was_satisfied is True
    assert "k" not in d


@pytest.mark.timeout(300)
def test_fallback_insert_one_winner_across_processes(bucket):
    # The machine lock holds between processes too: of several processes
    # inserting one key, exactly one wins. Across machines it cannot hold.
    params = {"bucket_name": bucket, "root_prefix": "deaf", "append_only": True}

    outcomes = race_in_processes(
        insert_without_conditions,
        lambda index: (params, "k", f"writer-{index}"),
        WRITERS,
    )

    winners = [value for outcome, value in outcomes if outcome == "won"]
    assert len(outcomes) == WRITERS, outcomes
    assert len(winners) == 1, outcomes
    assert BasicS3Dict(**params)["k"] == winners[0]
