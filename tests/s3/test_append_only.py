"""Append-only inserts use If-None-Match: *, so one of many writers wins."""

from __future__ import annotations

import threading

import pytest

from persidict import MutationPolicyError, S3Dict

from .helpers import (
    PAIRWISE_VARIANTS,
    ROOT_PREFIX,
    RequestRecorder,
    S3Variant,
    client_of,
    race_in_processes,
    variant_params,
)
from .workers import insert_in_process

pytestmark = pytest.mark.s3

WRITERS = 12
# The threads use these handles round-robin. Each handle, with its client
# and cache, serves several threads, and threads on different handles race
# through different clients.
THREAD_HANDLES = 3


@pytest.mark.parametrize("variant", variant_params(PAIRWISE_VARIANTS))
def test_insert_sends_if_none_match(make_s3_dict, variant):
    d = make_s3_dict(append_only=True)

    with RequestRecorder(client_of(d)) as recorder:
        d["k"] = "first"
    object_path = "/" + variant.object_key("k")
    puts = [
        call for call in recorder.calls_of("PutObject") if call.url_path == object_path
    ]

    assert len(puts) == 1
    assert puts[0].headers.get("If-None-Match") == "*"
    assert puts[0].status == 200


@pytest.mark.parametrize("variant", variant_params(PAIRWISE_VARIANTS))
def test_concurrent_thread_inserts_one_wins(make_s3_dict):
    handles = [make_s3_dict(append_only=True) for _ in range(THREAD_HANDLES)]
    barrier = threading.Barrier(WRITERS)
    outcomes: dict[int, str] = {}

    def insert(index: int) -> None:
        d = handles[index % THREAD_HANDLES]
        barrier.wait(timeout=60)
        try:
            d["k"] = f"writer-{index}"
        except MutationPolicyError:
            outcomes[index] = "rejected"
        except Exception as err:
            outcomes[index] = f"error: {type(err).__name__}: {err}"
        else:
            outcomes[index] = "won"

    threads = [threading.Thread(target=insert, args=(i,)) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    winners = [index for index, outcome in outcomes.items() if outcome == "won"]
    rejected = [index for index, outcome in outcomes.items() if outcome == "rejected"]
    assert len(outcomes) == WRITERS, outcomes
    assert len(winners) == 1, outcomes
    assert len(rejected) == WRITERS - 1, outcomes
    assert handles[0]["k"] == f"writer-{winners[0]}"


@pytest.mark.parametrize("variant", variant_params(PAIRWISE_VARIANTS))
def test_insert_of_existing_key_rejected(make_s3_dict):
    d = make_s3_dict(append_only=True)
    d["k"] = "first"
    other = make_s3_dict(append_only=True)

    with pytest.raises(MutationPolicyError):
        other["k"] = "second"

    assert d["k"] == "first"
    assert other["k"] == "first"


# Each of the twelve spawned processes imports boto3 and builds a client,
# which takes seconds on a loaded machine. So one variant runs: S3Dict,
# whose handles rebuild both the S3 client and the local cache.
@pytest.mark.parametrize(
    "variant",
    [pytest.param(S3Variant(S3Dict, "pkl", ROOT_PREFIX), id="S3Dict-pkl-prefix")],
)
def test_concurrent_process_inserts_one_wins(make_s3_dict):
    d = make_s3_dict(append_only=True)

    outcomes = race_in_processes(
        insert_in_process, lambda index: (d, "k", f"writer-{index}"), WRITERS
    )

    winners = [value for outcome, value in outcomes if outcome == "won"]
    rejected = [value for outcome, value in outcomes if outcome == "rejected"]
    assert len(outcomes) == WRITERS, outcomes
    assert len(winners) == 1, outcomes
    assert len(rejected) == WRITERS - 1, outcomes
    assert d["k"] == winners[0]
