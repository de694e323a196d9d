"""Monthly bill estimates: hand-computed tables, then properties over random objects."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tiering.costs import (
    AccessAge,
    ObjectGroup,
    bill,
    billable_minimums,
    cost_all_standard,
    cost_as_stored,
    cost_intelligent,
    monitoring_intelligent,
)
from tiering.policy import DEFAULT_PRICES, GB

KB = 1024
MB = 1024**2
MINIMUMS = billable_minimums(DEFAULT_PRICES)


def one(size: int, tier: str, days: float = 0, reads: float = 0.0) -> ObjectGroup:
    return ObjectGroup.of(
        size=size, tier=tier, days_since_access=days, reads_per_month=reads, minimums=MINIMUMS
    )


# (objects, as stored, all STANDARD, Intelligent-Tiering), worked by hand from the S3 notes' prices.
TABLE = [
    # 1 GiB hot in STANDARD: IT adds only its monitoring fee ($0.0025 / 1,000 objects).
    ([one(GB, "STANDARD")], 0.023, 0.023, 0.023 + 0.0000025),
    # 1 GiB idle 45 days in STANDARD_IA, read twice a month: $0.01/GB retrieval + $0.001/1k GETs;
    # STANDARD GETs are $0.0004/1k; IT is in its infrequent tier and charges no retrieval.
    (
        [one(GB, "STANDARD_IA", days=45, reads=2)],
        0.0125 + 0.02 + 0.000002,
        0.023 + 0.0000008,
        0.0125 + 0.0000025 + 0.0000008,
    ),
    # 64 KiB pinned to STANDARD_IA: billed as 128 KiB there; IT never tiers it and charges no fee.
    ([one(64 * KB, "STANDARD_IA", days=100)], 0.0125 / 8192, 0.023 / 16384, 0.023 / 16384),
    # 1 GiB cold in GLACIER_IR: IT's archive-instant tier costs the same plus the fee.
    ([one(GB, "GLACIER_IR", days=200)], 0.004, 0.023, 0.004 + 0.0000025),
    # 1 GiB in GLACIER: + 32 KiB index at the GLACIER price and 8 KiB at the STANDARD price.
    (
        [one(GB, "GLACIER", days=200)],
        0.0036 + 0.0036 * 32 / MB + 0.023 * 8 / MB,
        0.023,
        0.004 + 0.0000025,
    ),
    # Already INTELLIGENT_TIERING: as stored is the IT figure.
    ([one(GB, "INTELLIGENT_TIERING", days=31)], 0.0125 + 0.0000025, 0.023, 0.0125 + 0.0000025),
    # 1,000 hot objects of 1 MiB: the fee is $0.0025, storage 1000/1024 GiB at $0.023.
    (
        [one(MB, "STANDARD") for _ in range(1000)],
        0.023 * 1000 / 1024,
        0.023 * 1000 / 1024,
        0.023 * 1000 / 1024 + 0.0025,
    ),
    ([], 0.0, 0.0, 0.0),
]


@pytest.mark.parametrize(("groups", "now", "standard", "intelligent"), TABLE)
def test_bill_table(groups, now, standard, intelligent):
    result = bill(groups, DEFAULT_PRICES)
    assert result.now == pytest.approx(now, rel=1e-12, abs=1e-15)
    assert result.all_standard == pytest.approx(standard, rel=1e-12, abs=1e-15)
    assert result.intelligent == pytest.approx(intelligent, rel=1e-12, abs=1e-15)


def test_savings_and_percentages():
    result = bill([one(GB, "GLACIER_IR", days=200), one(GB, "STANDARD")], DEFAULT_PRICES)
    assert result.saving == pytest.approx(0.046 - 0.027)
    assert result.saving_percent == pytest.approx(100 * 0.019 / 0.046)
    assert result.intelligent_monitoring == pytest.approx(0.000005)
    assert result.saving_intelligent == pytest.approx(0.046 - 0.027 - 0.000005)
    assert bill([], DEFAULT_PRICES).saving_percent == 0.0


def test_access_age_follows_intelligent_tierings_days():
    assert [AccessAge.of(d) for d in (0, 29.9, 30, 89.9, 90, 5000)] == [
        AccessAge.RECENT,
        AccessAge.RECENT,
        AccessAge.COOLING,
        AccessAge.COOLING,
        AccessAge.COLD,
        AccessAge.COLD,
    ]


def test_refuses_what_it_cannot_price():
    with pytest.raises(ValueError, match="no DEEP_ARCHIVE row"):
        bill([one(GB, "DEEP_ARCHIVE")], DEFAULT_PRICES)
    bare = ObjectGroup(tier="STANDARD_IA", age=AccessAge.COLD, small=False, count=1, bytes=GB)
    with pytest.raises(ValueError, match="billable_minimums"):
        bill([bare], DEFAULT_PRICES)
    with pytest.raises(ValueError, match="negative"):
        one(-1, "STANDARD")


TIERS = ["STANDARD", "STANDARD_IA", "GLACIER_IR", "GLACIER", "INTELLIGENT_TIERING"]
sizes = st.integers(min_value=0, max_value=50 * GB)
days = st.floats(min_value=0, max_value=5000, allow_nan=False)
reads = st.floats(min_value=0, max_value=10_000, allow_nan=False)


@given(size=sizes, tier=st.sampled_from(TIERS), since=days, rate=reads)
def test_costs_are_never_negative(size, tier, since, rate):
    group = one(size, tier, since, rate)
    result = bill([group], DEFAULT_PRICES)
    assert result.now >= 0 and result.all_standard >= 0 and result.intelligent >= 0
    assert 0 <= result.intelligent_monitoring <= result.intelligent


@given(
    size=sizes,
    extra=st.integers(min_value=1, max_value=GB),
    tier=st.sampled_from(TIERS),
    since=days,
    rate=reads,
)
def test_costs_grow_with_size(size, extra, tier, since, rate):
    small, large = one(size, tier, since, rate), one(size + extra, tier, since, rate)
    for cost in (cost_as_stored, cost_all_standard, cost_intelligent):
        assert cost(large, DEFAULT_PRICES) >= cost(small, DEFAULT_PRICES)


@given(
    size=st.integers(min_value=128 * KB, max_value=50 * GB),
    tier=st.sampled_from(TIERS),
    since=st.floats(min_value=30, max_value=5000),
    rate=reads,
)
def test_idle_objects_of_128_kb_or_more_store_cheaper_in_intelligent_tiering(
    size, tier, since, rate
):
    group = one(size, tier, since, rate)
    storage_part = cost_intelligent(group, DEFAULT_PRICES) - monitoring_intelligent(group)
    assert cost_all_standard(group, DEFAULT_PRICES) > storage_part


@given(size=st.integers(min_value=0, max_value=128 * KB - 1), since=days, rate=reads)
def test_objects_under_128_kb_never_tier_and_pay_no_fee(size, since, rate):
    group = one(size, "STANDARD", since, rate)
    assert monitoring_intelligent(group) == 0
    assert cost_intelligent(group, DEFAULT_PRICES) == cost_all_standard(group, DEFAULT_PRICES)


@given(
    objects=st.lists(st.tuples(sizes, st.sampled_from(TIERS), days, reads), min_size=1, max_size=20)
)
def test_summed_groups_bill_like_their_objects(objects):
    """What the dashboard relies on: summing objects first (in SQL) changes no figure."""
    singles = [one(*facts) for facts in objects]
    merged: dict[tuple, ObjectGroup] = {}
    for group in singles:
        key = (group.tier, group.age, group.small)
        before = merged.get(key)
        if before is None:
            merged[key] = group
            continue
        merged[key] = ObjectGroup(
            tier=group.tier,
            age=group.age,
            small=group.small,
            count=before.count + 1,
            bytes=before.bytes + group.bytes,
            billable_bytes={m: before.billable(m) + group.billable(m) for m in MINIMUMS},
            reads=before.reads + group.reads,
            read_bytes=before.read_bytes + group.read_bytes,
        )
    apart, together = bill(singles, DEFAULT_PRICES), bill(merged.values(), DEFAULT_PRICES)
    for name in ("now", "all_standard", "intelligent", "intelligent_monitoring"):
        assert getattr(together, name) == pytest.approx(getattr(apart, name), rel=1e-9, abs=1e-12)


@given(size=sizes, since=days, rate=reads)
def test_everything_standard_costs_the_all_standard_figure(size, since, rate):
    result = bill([one(size, "STANDARD", since, rate)], DEFAULT_PRICES)
    assert result.now == result.all_standard
    assert result.saving == 0
