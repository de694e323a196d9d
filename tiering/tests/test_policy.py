"""The tier policy: table-driven cases and properties over random objects and price tables."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tiering.policy import (
    DEFAULT_PRICES,
    GB,
    ObjectFacts,
    Thresholds,
    Tier,
    TierPrice,
    decide,
    is_due,
    prices_with,
)

MB = 1024**2


def facts(**overrides) -> ObjectFacts:
    base = {
        "size_bytes": 4 * MB,
        "tier": Tier.STANDARD,
        "days_in_tier": 400,
        "days_since_access": 0,
        "reads_per_month": 0.0,
    }
    return ObjectFacts(**{**base, **overrides})


@pytest.mark.parametrize(
    ("case", "expected_action", "expected_target"),
    [
        # Intelligent-Tiering's clock: 30 days without access -> infrequent, 90 -> archive instant.
        (facts(days_since_access=29), "stay", Tier.STANDARD),
        (facts(days_since_access=30), "demote", Tier.STANDARD_IA),
        (facts(days_since_access=89), "demote", Tier.STANDARD_IA),
        (facts(days_since_access=90), "demote", Tier.GLACIER_IR),
        (
            facts(tier=Tier.STANDARD_IA, days_since_access=90, days_in_tier=60),
            "demote",
            Tier.GLACIER_IR,
        ),
        # Under 128 KB nothing is gained: stays, or comes back to STANDARD.
        (facts(size_bytes=100 * 1024, days_since_access=400), "stay", Tier.STANDARD),
        # A small object already in an archive tier (staff put it there) stays while that is
        # cheaper (it is billed as 128 KB at the archive price), and comes back once it is read.
        (
            facts(size_bytes=100 * 1024, tier=Tier.GLACIER_IR, days_in_tier=200),
            "stay",
            Tier.GLACIER_IR,
        ),
        (
            facts(size_bytes=100 * 1024, tier=Tier.GLACIER_IR, days_in_tier=200, reads_per_month=5),
            "promote",
            Tier.STANDARD,
        ),
        # About to be deleted: the 30/90-day minimum would cost more than it saves.
        (facts(days_since_access=120, expected_life_days=5), "stay", Tier.STANDARD),
        # Read often again: back to STANDARD once the retrieval fees outweigh the storage saving.
        (
            facts(tier=Tier.GLACIER_IR, days_in_tier=200, days_since_access=0, reads_per_month=20),
            "promote",
            Tier.STANDARD,
        ),
        # Read a little: the archive still pays.
        (
            facts(
                tier=Tier.GLACIER_IR, days_in_tier=200, days_since_access=0, reads_per_month=0.05
            ),
            "stay",
            Tier.GLACIER_IR,
        ),
        # Staff said so.
        (facts(days_since_access=400, excluded=True), "stay", Tier.STANDARD),
        (facts(pinned=Tier.GLACIER_IR), "demote", Tier.GLACIER_IR),
    ],
)
def test_decisions(case, expected_action, expected_target):
    decision = decide(case)
    assert (decision.action, decision.target) == (expected_action, expected_target), decision
    if decision.action != "stay" and case.pinned is None:
        assert decision.saving > 0 and decision.monthly_saving > 0


def test_a_fresh_demotion_is_not_undone_for_a_few_reads():
    # 10 days into GLACIER_IR, a read every two months: going back costs the rest of the 90 days
    # plus STANDARD's price, more than the retrieval fees it would save.
    # (STANDARD_IA, half-way in price, may still pay: the engine weighs every tier.)
    eager = Thresholds(promote_reads_per_month=0.1)
    few = facts(tier=Tier.GLACIER_IR, days_in_tier=10, days_since_access=1, reads_per_month=0.5)
    decision = decide(few, thresholds=eager)
    assert decision.target != Tier.STANDARD
    assert decision.costs[Tier.STANDARD] > decision.costs[Tier.GLACIER_IR]
    # One read a month already makes STANDARD cheaper for a 4 MB object (retrieval $0.03/GB).
    monthly = facts(tier=Tier.GLACIER_IR, days_in_tier=10, days_since_access=1, reads_per_month=1)
    assert decide(monthly).action == "promote"


def test_a_huge_object_read_a_lot_is_promoted_with_the_saving_stated():
    decision = decide(
        facts(size_bytes=2 * GB, tier=Tier.STANDARD_IA, days_in_tier=45, reads_per_month=10)
    )
    assert decision.action == "promote" and decision.target == Tier.STANDARD
    # 10 reads of 2 GB at $0.01/GB a month, minus IA's storage discount: about $0.18 a month.
    assert decision.monthly_saving == pytest.approx(0.2 - 2 * (0.023 - 0.0125), abs=0.01)


@pytest.mark.parametrize(
    "bad",
    [
        {"infrequent_after_days": 0},
        {"infrequent_after_days": 100, "archive_after_days": 90},
        {"min_object_bytes": 1000},
        {"horizon_days": 5},
        {"promote_reads_per_month": 0},
    ],
)
def test_thresholds_refuse_nonsense_with_a_reason(bad):
    with pytest.raises(ValueError, match=r"must|cannot"):
        Thresholds(**bad)


tiers = st.sampled_from(list(Tier))
money = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@st.composite
def price_tables(draw):
    table = {}
    for tier in Tier:
        table[tier] = TierPrice(
            storage_gb_month=draw(money),
            retrieval_gb=draw(money),
            get_per_1000=draw(money),
            put_per_1000=draw(money),
            min_days=draw(st.integers(0, 180)),
            min_bytes=draw(st.integers(0, 256 * 1024)),
        )
    return table


objects = st.builds(
    ObjectFacts,
    size_bytes=st.integers(0, 50 * GB),
    tier=tiers,
    days_in_tier=st.floats(0, 2000),
    days_since_access=st.floats(0, 2000),
    reads_per_month=st.floats(0, 10_000),
    expected_life_days=st.none() | st.floats(0, 5000),
)


@settings(max_examples=500, deadline=None)
@given(objects, price_tables())
def test_no_move_ever_has_a_negative_expected_saving(case, prices):
    decision = decide(case, prices=prices)
    if decision.action == "stay":
        assert decision.target == case.tier and decision.saving == 0
    else:
        assert decision.saving > 0
        assert decision.costs[decision.target] < decision.costs[case.tier]


@settings(max_examples=300, deadline=None)
@given(objects)
def test_demotions_respect_the_intelligent_tiering_clock_and_size(case):
    decision = decide(case, prices=DEFAULT_PRICES)
    if decision.action == "demote":
        assert case.size_bytes >= 128 * 1024
        needed = 30 if decision.target == Tier.STANDARD_IA else 90
        assert case.days_since_access >= needed


@settings(max_examples=300, deadline=None)
@given(objects, price_tables())
def test_the_policy_never_archives_to_glacier_nor_moves_out_of_it_by_itself(case, prices):
    decision = decide(case, prices=prices)
    assert decision.target != Tier.GLACIER or case.tier == Tier.GLACIER
    if case.tier == Tier.GLACIER:
        assert decision.action == "stay" and "restore" in decision.reason


def test_staff_may_pin_to_glacier_and_out_of_it():
    into = decide(facts(pinned=Tier.GLACIER))
    assert (into.action, into.target) == ("demote", Tier.GLACIER)
    out = decide(facts(tier=Tier.GLACIER, pinned=Tier.STANDARD_IA))
    assert (out.action, out.target) == ("promote", Tier.STANDARD_IA)


def test_price_overrides_are_laid_over_the_defaults_field_by_field():
    table = prices_with({"STANDARD_IA": {"storage_gb_month": 0.01, "min_days": 45}})
    assert table[Tier.STANDARD_IA].storage_gb_month == 0.01
    assert table[Tier.STANDARD_IA].min_days == 45
    assert table[Tier.STANDARD_IA].retrieval_gb == DEFAULT_PRICES[Tier.STANDARD_IA].retrieval_gb
    assert table[Tier.STANDARD] == DEFAULT_PRICES[Tier.STANDARD]
    assert prices_with(None) == DEFAULT_PRICES


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"REDUCED_REDUNDANCY": {"storage_gb_month": 0.02}}, "unknown storage tier"),
        ({"STANDARD": {"storage": 0.02}}, "unknown price field"),
        ({"STANDARD": {"storage_gb_month": -1}}, "at least 0"),
        ({"STANDARD": {"storage_gb_month": "cheap"}}, "at least 0"),
        ({"STANDARD": 0.02}, "mapping"),
    ],
)
def test_bad_price_overrides_are_refused_with_a_reason(overrides, message):
    with pytest.raises(ValueError, match=message):
        prices_with(overrides)


@settings(max_examples=500, deadline=None)
@given(objects, price_tables())
def test_an_object_not_due_is_never_moved(case, prices):
    """The sweep skips decide() for objects is_due() rules out: it must never miss a move."""
    due = is_due(
        tier=case.tier.value,
        size_bytes=case.size_bytes,
        days_since_access=case.days_since_access,
        reads_per_month=case.reads_per_month,
        thresholds=Thresholds(),
    )
    if not due:
        assert decide(case, prices=prices).action == "stay"
