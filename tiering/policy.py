"""The storage-tier policy: for one stored object, stay, demote or promote, and what it saves.

Pure: no database, no S3, no clock. The sweep (elsewhere) feeds it each object's facts and a price
table (from settings), and moves only what it says to move.

The rule every decision obeys: **a move happens only when its expected saving over the horizon is
positive after everything it costs** — the copy request, the early-deletion charge of leaving the
current tier before its minimum duration, the minimum duration and minimum billable size of the
new tier, and the retrieval fees the expected reads would pay there. On top of that, demotions follow
S3 Intelligent-Tiering's timing (30 days without access before an infrequent tier, 90 before the
archive-instant tier), so an object is never demoted while it is being read, and objects under the
minimum billable size (128 KB) never leave STANDARD.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

GB = 1024**3
DAYS_PER_MONTH = 30.0


class Tier(StrEnum):
    STANDARD = "STANDARD"
    STANDARD_IA = "STANDARD_IA"
    GLACIER_IR = "GLACIER_IR"
    # Flexible retrieval: reads need a restore first (hours on AWS). Never chosen by the policy;
    # only staff pin objects here, and only a restore brings them back.
    GLACIER = "GLACIER"


@dataclass(frozen=True)
class TierPrice:
    storage_gb_month: float  # $ per GB-month stored
    retrieval_gb: float  # $ per GB read
    get_per_1000: float  # $ per 1,000 GET requests
    put_per_1000: float  # $ per 1,000 PUT/COPY requests (a move is one COPY into this tier)
    min_days: int  # billed for at least this long once stored here
    min_bytes: int  # billed as at least this large


# us-east-1 list prices (see the S3 notes); settings may override them (TIERING_PRICES).
DEFAULT_PRICES: dict[Tier, TierPrice] = {
    Tier.STANDARD: TierPrice(0.023, 0.0, 0.0004, 0.005, 0, 0),
    Tier.STANDARD_IA: TierPrice(0.0125, 0.01, 0.001, 0.01, 30, 128 * 1024),
    Tier.GLACIER_IR: TierPrice(0.004, 0.03, 0.01, 0.02, 90, 128 * 1024),
    # Standard retrievals; S3 also bills ~40 KB of index per object, left out here.
    Tier.GLACIER: TierPrice(0.0036, 0.01, 0.0004, 0.03, 90, 0),
}
PRICE_FIELDS = (
    "storage_gb_month",
    "retrieval_gb",
    "get_per_1000",
    "put_per_1000",
    "min_days",
    "min_bytes",
)


def prices_with(overrides: dict | None) -> dict[Tier, TierPrice]:
    """DEFAULT_PRICES with ``overrides`` ({"STANDARD_IA": {"storage_gb_month": 0.0125}, ...})
    laid over them, field by field. Raises ValueError naming an unknown tier or field, or a
    negative figure."""
    table = dict(DEFAULT_PRICES)
    for name, fields in (overrides or {}).items():
        try:
            tier = Tier(name)
        except ValueError:
            raise ValueError(f"unknown storage tier {name!r} in the price table") from None
        if not isinstance(fields, dict):
            raise ValueError(f"prices of {name} must be a mapping of field to number")
        unknown = set(fields) - set(PRICE_FIELDS)
        if unknown:
            raise ValueError(f"unknown price field(s) for {name}: {', '.join(sorted(unknown))}")
        merged = {**table[tier].__dict__, **fields}
        if any(not isinstance(v, int | float) or v < 0 for v in merged.values()):
            raise ValueError(f"prices of {name} must be numbers of at least 0")
        merged["min_days"], merged["min_bytes"] = int(merged["min_days"]), int(merged["min_bytes"])
        table[tier] = TierPrice(**merged)
    return table


@dataclass(frozen=True)
class Thresholds:
    """When demotions may be considered at all (S3 Intelligent-Tiering's defaults)."""

    infrequent_after_days: int = 30  # no access for this long -> STANDARD_IA may pay
    archive_after_days: int = 90  # no access for this long -> GLACIER_IR may pay
    min_object_bytes: int = 128 * 1024  # smaller objects stay STANDARD
    horizon_days: int = 180  # how far ahead savings are counted
    promote_reads_per_month: float = 1.0  # at least this rate before a promotion is considered

    def __post_init__(self) -> None:
        problems = []
        if not 0 < self.infrequent_after_days < self.archive_after_days:
            problems.append("infrequent_after_days must be positive and below archive_after_days")
        if self.archive_after_days > 3650:
            problems.append("archive_after_days must be at most ten years")
        if self.min_object_bytes < 128 * 1024:
            problems.append(
                "min_object_bytes cannot be under 128 KB: S3 bills smaller objects as 128 KB"
            )
        if not 30 <= self.horizon_days <= 3650:
            problems.append("horizon_days must be between 30 and 3650")
        if self.promote_reads_per_month <= 0:
            problems.append("promote_reads_per_month must be positive")
        if problems:
            raise ValueError("; ".join(problems))


@dataclass(frozen=True)
class ObjectFacts:
    size_bytes: int
    tier: Tier
    days_in_tier: float  # since the last write or tier change (S3's minimum-duration clock)
    days_since_access: float  # since the last read (or since creation if never read)
    reads_per_month: float  # observed read rate (rolling)
    expected_life_days: float | None = None  # None: assume it outlives the horizon
    pinned: Tier | None = None  # staff pinned it to this tier
    excluded: bool = False  # staff excluded it from tiering


@dataclass(frozen=True)
class Decision:
    action: str  # "stay", "demote" or "promote"
    target: Tier
    saving: float  # expected $ saved over the horizon (0 for stay)
    monthly_saving: float
    reason: str
    costs: dict[Tier, float] = field(default_factory=dict)


# The tiers the policy moves objects between by itself, warmest first.
ORDER = [Tier.STANDARD, Tier.STANDARD_IA, Tier.GLACIER_IR]
_ORDER_VALUES = frozenset(tier.value for tier in ORDER)
RANK = {**{tier: index for index, tier in enumerate(ORDER)}, Tier.GLACIER: len(ORDER)}


def horizon_cost(
    facts: ObjectFacts,
    tier: Tier,
    *,
    prices: dict[Tier, TierPrice],
    horizon_days: float,
) -> float:
    """Expected $ to keep the object in ``tier`` for the horizon, counting the move into it."""
    price = prices[tier]
    here = prices[facts.tier]
    life = (
        horizon_days
        if facts.expected_life_days is None
        else min(horizon_days, max(facts.expected_life_days, 0.0))
    )
    moving = tier != facts.tier
    # Storage: billed for at least the tier's minimum duration once moved in (and the minimum size).
    billed_days = max(life, price.min_days) if moving else life
    billable_gb = max(facts.size_bytes, price.min_bytes) / GB
    cost = price.storage_gb_month * billable_gb * billed_days / DAYS_PER_MONTH
    # Reads over the horizon: retrieval per GB and the GET requests.
    reads = facts.reads_per_month * life / DAYS_PER_MONTH
    cost += reads * (facts.size_bytes / GB * price.retrieval_gb + price.get_per_1000 / 1000)
    if moving:
        cost += price.put_per_1000 / 1000  # the in-place COPY into the new tier
        # Leaving before the current tier's minimum duration is billed as if it had stayed.
        remaining_minimum = max(here.min_days - facts.days_in_tier, 0.0)
        cost += (
            here.storage_gb_month
            * max(facts.size_bytes, here.min_bytes)
            / GB
            * remaining_minimum
            / DAYS_PER_MONTH
        )
    # Staying is not charged the early-deletion fee of an object that dies young: that
    # under-states staying, so savings are under-stated and the policy errs towards not moving.
    return cost


def _candidates(
    tier: Tier, size_bytes: int, days_since_access: float, reads: float, thresholds: Thresholds
) -> list[Tier]:
    """The tiers a move from ``tier`` may go to, before weighing costs."""
    candidates: list[Tier] = []
    rank = ORDER.index(tier)
    if size_bytes >= thresholds.min_object_bytes:
        if rank < 1 and days_since_access >= thresholds.infrequent_after_days:
            candidates.append(Tier.STANDARD_IA)
        if rank < 2 and days_since_access >= thresholds.archive_after_days:
            candidates.append(Tier.GLACIER_IR)
    if rank > 0 and reads >= thresholds.promote_reads_per_month:
        candidates += ORDER[:rank]
    if rank > 0 and size_bytes < thresholds.min_object_bytes:
        candidates.append(Tier.STANDARD)  # too small to gain anything off STANDARD
    return candidates


def is_due(
    *,
    tier: str,
    size_bytes: int,
    days_since_access: float,
    reads_per_month: float,
    thresholds: Thresholds,
) -> bool:
    """Whether ``decide`` could move an object that staff neither pinned nor excluded: False
    means it would say "stay" (no move is due yet). Cheap, for sweeps over millions of objects."""
    if tier not in _ORDER_VALUES:
        return False
    return bool(_candidates(Tier(tier), size_bytes, days_since_access, reads_per_month, thresholds))


def decide(
    facts: ObjectFacts,
    *,
    prices: dict[Tier, TierPrice] = DEFAULT_PRICES,
    thresholds: Thresholds = Thresholds(),
) -> Decision:
    """Stay, demote or promote ``facts``' object; never a move whose expected saving is <= 0."""
    horizon = float(thresholds.horizon_days)
    considered = dict.fromkeys([*ORDER, facts.tier, *([facts.pinned] if facts.pinned else [])])
    costs = {
        tier: horizon_cost(facts, tier, prices=prices, horizon_days=horizon) for tier in considered
    }
    current = costs[facts.tier]

    def stay(reason: str) -> Decision:
        return Decision("stay", facts.tier, 0.0, 0.0, reason, costs)

    if facts.excluded:
        return stay("excluded by staff")
    if facts.pinned is not None:
        if facts.pinned == facts.tier:
            return stay("pinned to this tier by staff")
        action = "promote" if RANK[facts.pinned] < RANK[facts.tier] else "demote"
        saving = current - costs[facts.pinned]
        # Staff's choice: moved whatever it costs, and the (maybe negative) saving says so.
        return Decision(
            action,
            facts.pinned,
            saving,
            saving / horizon * DAYS_PER_MONTH,
            "pinned by staff",
            costs,
        )

    if facts.tier not in ORDER:
        return stay("in an archive tier: only staff or a restore move it")
    candidates = _candidates(
        facts.tier, facts.size_bytes, facts.days_since_access, facts.reads_per_month, thresholds
    )
    rank = ORDER.index(facts.tier)

    best: Tier | None = None
    for tier in candidates:
        if current - costs[tier] > 0 and (best is None or costs[tier] < costs[best]):
            best = tier
    if best is None:
        if not candidates:
            return stay("no tier change is due yet")
        return stay("no move saves money over the horizon")
    saving = current - costs[best]
    action = "promote" if ORDER.index(best) < rank else "demote"
    reason = (
        f"{facts.days_since_access:.0f} days without access"
        if action == "demote"
        else f"{facts.reads_per_month:.1f} reads a month"
    )
    return Decision(action, best, saving, saving / horizon * DAYS_PER_MONTH, reason, costs)
