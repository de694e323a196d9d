"""The storage dashboard's reads: objects, bytes and the monthly bill by tier, and the daily
snapshot that the savings chart draws.

Every figure comes from two aggregate queries (originals, renditions), grouped by tier x access
age (under 30, 30 to 90, 90+ days since the asset was last accessed) x side of 128 KB, whatever
the number of rows; ``tiering.costs`` prices the groups.

What the access age and read rate mean: the app's access signal is per asset (URLs issued for its
large view, video or original), so every object of an asset takes the asset's last access and its
read rate (decayed to now, 30-day half-life), as the sweep does. The rate is charged to the
original and to large views and video transcodes of 128 KB or more (those that can leave
STANDARD). Grid images and posters are read on every grid and their reads are not counted: they
are taken as accessed now (so no bill imagines them colder), and smaller renditions cost the same
in every column. Charging the
original with page views over-states what its tier costs, so the estimate errs against tiering,
never for it. An asset never accessed counts from its upload.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    DateTimeField,
    Expression,
    F,
    FloatField,
    Func,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.expressions import CombinedExpression
from django.db.models.functions import Coalesce, Exp, Greatest
from django.utils import timezone

from media.models import MediaAsset, MediaRendition, StorageTier
from tiering import access, costs
from tiering.costs import AccessAge, Bill, ObjectGroup
from tiering.models import StorageSnapshot, TieringSweep
from tiering.sweep import TIERED_PURPOSES, tiering_prices

CHART_DAYS = 365


class DaysSince(Func):
    """Days (a float) from a datetime column to ``now``, in SQL on PostgreSQL and SQLite."""

    output_field = FloatField()

    def __init__(self, expression, now: datetime) -> None:
        super().__init__(Value(now, output_field=DateTimeField()), expression)

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template="(EXTRACT(EPOCH FROM (%(expressions)s)) / 86400.0)",
            arg_joiner=" - ",
            **extra,
        )

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template="(julianday(%(expressions)s))",
            arg_joiner=") - julianday(",
            **extra,
        )


def _rate_now(rate: str, rate_at: str, now: datetime) -> CombinedExpression:
    """The read rate decayed to ``now`` (``tiering.access.rate_decayed``, in SQL)."""
    per_day = -math.log(2) / access.HALF_LIFE_DAYS
    return F(rate) * Exp(Value(per_day) * Coalesce(DaysSince(F(rate_at), now), Value(0.0)))


@dataclass(frozen=True)
class TierRow:
    tier: str
    label: str
    originals: int
    original_bytes: int
    renditions: int
    rendition_bytes: int

    @property
    def objects(self) -> int:
        return self.originals + self.renditions

    @property
    def bytes(self) -> int:
        return self.original_bytes + self.rendition_bytes


@dataclass(frozen=True)
class StorageReport:
    rows: list[TierRow]  # one per tier holding anything, in StorageTier's order
    bill: Bill
    at: datetime

    @property
    def objects(self) -> int:
        return sum(row.objects for row in self.rows)

    @property
    def bytes(self) -> int:
        return sum(row.bytes for row in self.rows)


def _grouped(
    queryset: QuerySet,
    *,
    last_access: Expression,
    reads: Expression | F,
    now: datetime,
    minimums: list[int],
) -> list[ObjectGroup]:
    """``queryset``'s objects (fields storage_tier, byte_size) summed by tier x age x size."""
    size = F("byte_size")
    rows = (
        queryset.annotate(
            last_access=last_access,
            age=Case(
                When(
                    last_access__gt=now - timedelta(days=costs.IT_INFREQUENT_AFTER_DAYS),
                    then=Value(AccessAge.RECENT.value),
                ),
                When(
                    last_access__gt=now - timedelta(days=costs.IT_ARCHIVE_INSTANT_AFTER_DAYS),
                    then=Value(AccessAge.COOLING.value),
                ),
                default=Value(AccessAge.COLD.value),
                output_field=IntegerField(),
            ),
            small=Case(
                When(byte_size__lt=costs.IT_MIN_TIERED_BYTES, then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            ),
            reads=reads,
        )
        .order_by()
        .values("storage_tier", "age", "small")
        .annotate(
            count=Count("pk"),
            total_bytes=Sum(size),
            total_reads=Sum("reads"),
            read_bytes=Sum(F("reads") * size, output_field=FloatField()),
            **{
                f"billable_{minimum}": Sum(
                    Greatest(size, Value(minimum), output_field=BigIntegerField())
                )
                for minimum in minimums
            },
        )
    )
    return [
        ObjectGroup(
            tier=row["storage_tier"],
            age=AccessAge(row["age"]),
            small=bool(row["small"]),
            count=row["count"],
            bytes=row["total_bytes"] or 0,
            billable_bytes={m: row[f"billable_{m}"] or 0 for m in minimums},
            reads=row["total_reads"] or 0.0,
            read_bytes=row["read_bytes"] or 0.0,
        )
        for row in rows
    ]


def storage_groups(
    *, now: datetime | None = None, minimums: list[int]
) -> tuple[list[ObjectGroup], list[ObjectGroup]]:
    """(originals, renditions) of every asset still held, summed: two queries."""
    now = now or timezone.now()
    originals = _grouped(
        MediaAsset.objects.filter(released_at__isnull=True),
        last_access=Coalesce("last_accessed_at", "created_at"),
        reads=_rate_now("read_rate", "read_rate_at", now),
        now=now,
        minimums=minimums,
    )
    seen = Q(purpose__in=TIERED_PURPOSES)
    renditions = _grouped(
        MediaRendition.objects.filter(asset__released_at__isnull=True),
        # Grid images and posters are read on every grid, unseen by the signal: counted as
        # accessed now, so neither bill imagines them in a colder tier.
        last_access=Case(
            When(seen, then=Coalesce("asset__last_accessed_at", "asset__created_at")),
            default=Value(now),
        ),
        reads=Case(
            When(
                seen & Q(byte_size__gte=costs.IT_MIN_TIERED_BYTES),
                then=_rate_now("asset__read_rate", "asset__read_rate_at", now),
            ),
            default=Value(0.0),
            output_field=FloatField(),
        ),
        now=now,
        minimums=minimums,
    )
    return originals, renditions


def storage_report(*, now: datetime | None = None) -> StorageReport:
    """Objects and bytes per tier (originals and renditions) and the three monthly bills."""
    now = now or timezone.now()
    prices = tiering_prices()
    originals, renditions = storage_groups(now=now, minimums=costs.billable_minimums(prices))
    totals: dict[str, list[int]] = {}
    for groups, offset in ((originals, 0), (renditions, 2)):
        for group in groups:
            sums = totals.setdefault(group.tier, [0, 0, 0, 0])
            sums[offset] += group.count
            sums[offset + 1] += group.bytes
    labels = dict(StorageTier.choices)
    order = list(labels)
    rows = [
        TierRow(tier, labels.get(tier, tier), *sums)
        for tier, sums in sorted(
            totals.items(), key=lambda item: order.index(item[0]) if item[0] in order else 99
        )
    ]
    return StorageReport(rows=rows, bill=costs.bill(originals + renditions, prices), at=now)


def tiering_snapshot_take(*, day: date | None = None) -> StorageSnapshot:
    """Record today's (or ``day``'s) storage and bills; taking it again replaces that day's row."""
    report = storage_report()
    cents = Decimal("0.0001")
    snapshot, _ = StorageSnapshot.objects.update_or_create(
        day=day or timezone.localdate(),
        defaults={
            "objects_by_tier": {row.tier: row.objects for row in report.rows},
            "bytes_by_tier": {row.tier: row.bytes for row in report.rows},
            "monthly_cost": Decimal(report.bill.now).quantize(cents),
            "monthly_cost_all_standard": Decimal(report.bill.all_standard).quantize(cents),
            "monthly_cost_intelligent": Decimal(report.bill.intelligent).quantize(cents),
        },
    )
    return snapshot


def storage_snapshots_recent(*, days: int = CHART_DAYS) -> list[StorageSnapshot]:
    """The snapshots of the last ``days`` days, oldest first (for the chart)."""
    since = timezone.localdate() - timedelta(days=days)
    return list(StorageSnapshot.objects.filter(day__gt=since).order_by("day"))


def tiering_sweep_last() -> TieringSweep | None:
    """The latest real sweep (dry runs are previews, not history)."""
    return TieringSweep.objects.filter(dry_run=False).order_by("-started_at").first()
