"""Bulk reads and writes return everything and keep several requests in flight."""

from __future__ import annotations

import pytest

from .helpers import ONE_PER_CLASS_VARIANTS, RequestRecorder, client_of, variant_params

pytestmark = pytest.mark.s3

BULK_KEYS = 500
MAX_WORKERS = 6


def _bulk_items():
    return {("bulk", f"k{i:03d}"): {"index": i} for i in range(BULK_KEYS)}


@pytest.mark.parametrize("variant", variant_params(ONE_PER_CLASS_VARIANTS))
def test_bulk_update_and_reads(make_s3_dict):
    d = make_s3_dict(max_workers=MAX_WORKERS)
    items = _bulk_items()

    with RequestRecorder(client_of(d)) as writes:
        d.update(items)

    assert writes.operations()["PutObject"] == BULK_KEYS
    assert 1 < writes.max_in_flight <= MAX_WORKERS
    assert len(d) == BULK_KEYS

    reader = make_s3_dict(max_workers=MAX_WORKERS)
    with RequestRecorder(client_of(reader)) as item_reads:
        read_items = dict(reader.items())

    assert read_items == items
    assert item_reads.operations()["GetObject"] == BULK_KEYS
    assert 1 < item_reads.max_in_flight <= MAX_WORKERS

    with RequestRecorder(client_of(reader)) as value_reads:
        read_values = list(reader.values())

    assert sorted(value["index"] for value in read_values) == list(range(BULK_KEYS))
    assert 1 < value_reads.max_in_flight <= MAX_WORKERS
