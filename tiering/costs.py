"""What stored media costs a month: as stored, if all of it were STANDARD, and if S3
Intelligent-Tiering held it.

Pure: no database, no settings, no clock. Objects come in as ``ObjectGroup``s — objects sharing a
tier, an access age (under 30, 30 to 90, 90+ days since the last access) and a side of 128 KB,
with their sizes and reads summed — because every figure here is linear in those sums. So the
dashboard sums in SQL (``tiering.report``) and a group of one is one object
(``ObjectGroup.of``); the tests check that both give the same bill.

A month's bill counts storage (each tier's price on its minimum billable size) and the counted
reads (retrieval per GB and the GET requests). It leaves out what is the same in every column or
is not monthly: PUT/COPY requests and minimum-duration charges of moves, and reads nobody counts
(grid thumbnails: they stay STANDARD and are read alike in all three columns).

Intelligent-Tiering, as the AWS S3 user guide describes it: an object moves from the frequent
tier to the infrequent one after 30 consecutive days without access and to archive instant after
90; there is no retrieval fee and no minimum duration or size; a monitoring fee is charged per
object of 128 KB or more, and smaller objects are never tiered (frequent tier, no fee). Its tiers
are listed at the same storage prices as STANDARD, STANDARD_IA and GLACIER_IR, so those rows of
the price table price them, and a settings override moves both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum

from tiering.policy import GB, Tier, TierPrice

# S3 pricing page (us-east-1, "S3 Intelligent-Tiering: monitoring and automation, all storage /
# month"): $0.0025 per 1,000 objects of 128 KB or more; see the S3 notes.
IT_MONITORING_PER_1000_OBJECTS = 0.0025
IT_MIN_TIERED_BYTES = 128 * 1024
IT_INFREQUENT_AFTER_DAYS = 30
IT_ARCHIVE_INSTANT_AFTER_DAYS = 90

INTELLIGENT_TIERING = "INTELLIGENT_TIERING"
GLACIER = "GLACIER"
# Glacier Flexible Retrieval bills each object 32 KB of index at the GLACIER price and 8 KB of
# name at the STANDARD price on top of its size (S3 pricing page, "Storage pricing" notes).
GLACIER_INDEX_BYTES = 32 * 1024
GLACIER_NAME_BYTES = 8 * 1024


class AccessAge(IntEnum):
    """Days since an object was last read, in Intelligent-Tiering's steps."""

    RECENT = 0  # under 30 days: frequent tier
    COOLING = 1  # 30 to 90 days: infrequent tier
    COLD = 2  # 90 days or more: archive instant tier

    @classmethod
    def of(cls, days_since_access: float) -> AccessAge:
        if days_since_access >= IT_ARCHIVE_INSTANT_AFTER_DAYS:
            return cls.COLD
        if days_since_access >= IT_INFREQUENT_AFTER_DAYS:
            return cls.COOLING
        return cls.RECENT


def billable_minimums(prices: Mapping[Tier, TierPrice]) -> list[int]:
    """The minimum billable sizes a group must carry sums for, to be priced under ``prices``."""
    return sorted({price.min_bytes for price in prices.values() if price.min_bytes > 0})


@dataclass(frozen=True)
class ObjectGroup:
    """Objects with the same tier, access age and side of 128 KB, summed."""

    tier: str
    age: AccessAge
    small: bool  # under 128 KB: Intelligent-Tiering never tiers them and charges no fee
    count: int
    bytes: int
    # {minimum billable size: sum over the objects of max(size, that minimum)}
    billable_bytes: Mapping[int, int] = field(default_factory=dict)
    reads: float = 0.0  # reads a month, summed
    read_bytes: float = 0.0  # sum of reads a month x size: the bytes read a month

    @classmethod
    def of(
        cls,
        *,
        size: int,
        tier: str,
        days_since_access: float,
        reads_per_month: float,
        minimums: Iterable[int],
    ) -> ObjectGroup:
        """One object as a group of one."""
        if size < 0 or reads_per_month < 0:
            raise ValueError("an object's size and read rate cannot be negative")
        return cls(
            tier=str(tier),
            age=AccessAge.of(days_since_access),
            small=size < IT_MIN_TIERED_BYTES,
            count=1,
            bytes=size,
            billable_bytes={minimum: max(size, minimum) for minimum in minimums},
            reads=reads_per_month,
            read_bytes=reads_per_month * size,
        )

    def billable(self, min_bytes: int) -> int:
        if min_bytes <= 0:
            return self.bytes
        try:
            return self.billable_bytes[min_bytes]
        except KeyError:
            raise ValueError(
                f"no billable sum for a {min_bytes}-byte minimum: build the groups with "
                "billable_minimums() of the same price table"
            ) from None


@dataclass(frozen=True)
class Bill:
    """Estimated $ a month for the same objects three ways."""

    now: float  # as stored, tier by tier
    all_standard: float  # if every object were STANDARD
    intelligent: float  # if S3 Intelligent-Tiering held every object (monitoring fee included)
    intelligent_monitoring: float  # the monitoring fee inside ``intelligent``

    @property
    def saving(self) -> float:
        """What the tiers as stored save against all-STANDARD (negative: they cost more)."""
        return self.all_standard - self.now

    @property
    def saving_intelligent(self) -> float:
        return self.all_standard - self.intelligent

    @property
    def saving_percent(self) -> float:
        return _percent(self.saving, self.all_standard)

    @property
    def saving_intelligent_percent(self) -> float:
        return _percent(self.saving_intelligent, self.all_standard)


def _percent(part: float, whole: float) -> float:
    return 100.0 * part / whole if whole else 0.0


def _price(prices: Mapping[Tier, TierPrice], tier: str) -> TierPrice:
    if tier not in prices:
        raise ValueError(f"the price table has no {tier} row")
    return prices[Tier(tier)]


def _reads_cost(group: ObjectGroup, price: TierPrice) -> float:
    return price.retrieval_gb * group.read_bytes / GB + price.get_per_1000 * group.reads / 1000


def cost_as_stored(group: ObjectGroup, prices: Mapping[Tier, TierPrice]) -> float:
    """$ a month for ``group`` in its own tier (Intelligent-Tiering objects priced as such)."""
    if group.tier == INTELLIGENT_TIERING:
        return cost_intelligent(group, prices)
    price = _price(prices, group.tier)
    cost = price.storage_gb_month * group.billable(price.min_bytes) / GB
    if group.tier == GLACIER:
        cost += price.storage_gb_month * group.count * GLACIER_INDEX_BYTES / GB
        cost += prices[Tier.STANDARD].storage_gb_month * group.count * GLACIER_NAME_BYTES / GB
    return cost + _reads_cost(group, price)


def cost_all_standard(group: ObjectGroup, prices: Mapping[Tier, TierPrice]) -> float:
    price = prices[Tier.STANDARD]
    return price.storage_gb_month * group.billable(price.min_bytes) / GB + _reads_cost(group, price)


def monitoring_intelligent(group: ObjectGroup) -> float:
    return 0.0 if group.small else IT_MONITORING_PER_1000_OBJECTS * group.count / 1000


def cost_intelligent(group: ObjectGroup, prices: Mapping[Tier, TierPrice]) -> float:
    """$ a month for ``group`` under S3 Intelligent-Tiering (no retrieval fees; GETs at the
    STANDARD request price; the monitoring fee for objects of 128 KB or more)."""
    age = AccessAge.RECENT if group.small else group.age
    tier = {
        AccessAge.RECENT: Tier.STANDARD,
        AccessAge.COOLING: Tier.STANDARD_IA,
        AccessAge.COLD: Tier.GLACIER_IR,
    }[age]
    storage = prices[tier].storage_gb_month * group.bytes / GB
    requests = prices[Tier.STANDARD].get_per_1000 * group.reads / 1000
    return storage + requests + monitoring_intelligent(group)


def bill(groups: Iterable[ObjectGroup], prices: Mapping[Tier, TierPrice]) -> Bill:
    """The three monthly estimates over ``groups``."""
    now = standard = intelligent = monitoring = 0.0
    for group in groups:
        now += cost_as_stored(group, prices)
        standard += cost_all_standard(group, prices)
        intelligent += cost_intelligent(group, prices)
        monitoring += monitoring_intelligent(group)
    return Bill(now, standard, intelligent, monitoring)
