"""The tiering sweep: every stored object of every ready asset, in keyset batches, through the
policy (``tiering.policy``), and the moves it asks for done by an in-place copy.

What is looked at: each ready, unreleased asset's original and those of its renditions of at
least the policy's minimum size among the large view and video transcodes (grid thumbnails and
posters never tier, whatever their size: the access signal does not see their reads),
plus any rendition already off STANDARD. Assets staff excluded are skipped. The facts come from
the rows: days in the tier (``tier_changed_at``, else ``created_at``), days since the last access
(``last_accessed_at``, else ``created_at``) and the read rate decayed to ``now``. Every object of
an asset shares the asset's access signal (see ``tiering.access``).

Bounded memory: batches of ``TieringPolicy.batch_size`` assets by primary key (``pk > last``),
read as value tuples; nothing holds more than one batch. Safe to run twice and concurrently: the
facts of the assets a batch moves are read again (skipping rows another sweep has locked that
instant) and decided again; the copies run outside any transaction, and each move is recorded
only if its row still says the tier it moved from, so a second sweep finds them moved or
records nothing twice. No S3 call is made in a transaction or under a row lock.

Modes: ``off`` moves nothing; ``intelligent`` (S3 decides) moves only what staff pinned; ``app``
moves what the policy says. On local disk tiers are recorded on the rows and no byte moves (the
sweep row says so: ``bytes_moved_on_storage=False``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from media import storage
from media.models import MediaAsset, MediaRendition, StorageTier
from tiering import access
from tiering.models import TieringPolicy, TieringSweep, TierTransition
from tiering.policy import ObjectFacts, Thresholds, Tier, TierPrice, decide, is_due, prices_with
from tiering.restore import tiering_restore_request

logger = logging.getLogger(__name__)

DAY = 86400.0


@dataclass(frozen=True)
class PlannedMove:
    """One object the sweep moves (or, in a dry run, would move)."""

    asset_id: int
    key: str
    object_bytes: int
    from_tier: str
    to_tier: str
    reason: str
    monthly_saving: float
    rendition_id: int | None = None  # None: the asset's original
    cause: str = TierTransition.Cause.POLICY


def tiering_policy_get() -> TieringPolicy:
    """The policy row (pk 1), made with the defaults on first use."""
    policy, _created = TieringPolicy.objects.get_or_create(pk=1)
    return policy


def tiering_thresholds(policy: TieringPolicy) -> Thresholds:
    return Thresholds(
        infrequent_after_days=policy.infrequent_after_days,
        archive_after_days=policy.archive_after_days,
        min_object_bytes=policy.min_object_bytes,
        horizon_days=policy.horizon_days,
        promote_reads_per_month=policy.promote_reads_per_month,
    )


def tiering_prices() -> dict[Tier, TierPrice]:
    """The price table: ``tiering.policy.DEFAULT_PRICES`` with settings ``TIERING_PRICES`` over it."""
    return prices_with(settings.TIERING_PRICES)


_ASSET_FIELDS = (
    "pk",
    "original_key",
    "byte_size",
    "storage_tier",
    "tier_changed_at",
    "created_at",
    "last_accessed_at",
    "read_rate",
    "read_rate_at",
    "tier_pinned",
)
_RENDITION_FIELDS = (
    "pk",
    "asset_id",
    "key",
    "byte_size",
    "storage_tier",
    "tier_changed_at",
    "created_at",
)
# Renditions whose reads the access signal sees (pin pages, videos). Grid images and posters are
# shown on every grid and their reads are not counted, so they never leave STANDARD: judged by a
# signal blind to their reads they would look idle and be demoted while hot.
TIERED_PURPOSES = (MediaRendition.Purpose.LARGE, MediaRendition.Purpose.VIDEO)
# The tiers the policy reasons about; an object anywhere else (INTELLIGENT_TIERING) is S3's.
_POLICY_TIERS = {tier.value for tier in Tier}


class _Plan:
    """Decides the moves for one batch of rows (pure given the rows)."""

    def __init__(self, *, mode: str, now: datetime, thresholds: Thresholds, prices) -> None:
        self.mode, self.now, self.thresholds, self.prices = mode, now, thresholds, prices

    def renditions_query(self, assets: list[tuple], *, by_range: bool = True):
        """The renditions worth looking at of these assets (rows in pk order). A batch asks by
        pk range, not a list of ids (cheaper to build and run); renditions of assets outside
        the batch are ignored by ``moves``."""
        if by_range:
            query = MediaRendition.objects.filter(
                asset_id__gte=assets[0][0], asset_id__lte=assets[-1][0]
            )
        else:
            query = MediaRendition.objects.filter(asset_id__in=[row[0] for row in assets])
        return (
            query.filter(
                Q(byte_size__gte=self.thresholds.min_object_bytes, purpose__in=TIERED_PURPOSES)
                | ~Q(storage_tier=StorageTier.STANDARD)
            )
            .order_by("pk")
            .values_list(*_RENDITION_FIELDS)
        )

    def moves(self, assets: list[tuple], renditions: list[tuple]) -> tuple[int, list[PlannedMove]]:
        """(objects examined, moves) for these asset rows and their rendition rows."""
        by_asset: dict[int, list[tuple]] = {}
        for row in renditions:
            by_asset.setdefault(row[1], []).append(row)
        examined, planned = 0, []
        for pk, key, size, tier, changed, created, accessed, rate, rate_at, pinned in assets:
            since_access = self._days(accessed or created)
            reads = access.rate_decayed(rate, rate_at, self.now)
            objects = [(None, key, size, tier, changed or created)]
            objects += [(r[0], r[2], r[3], r[4], r[5] or r[6]) for r in by_asset.get(pk, [])]
            for rendition_id, object_key, object_bytes, object_tier, tier_since in objects:
                examined += 1
                move = self._decide(
                    asset_id=pk,
                    rendition_id=rendition_id,
                    key=object_key,
                    size=object_bytes,
                    tier=object_tier,
                    days_in_tier=self._days(tier_since),
                    days_since_access=since_access,
                    reads=reads,
                    pinned=pinned,
                )
                if move is not None:
                    planned.append(move)
        return examined, planned

    def _days(self, moment: datetime | None) -> float:
        if moment is None:
            return 0.0
        return max((self.now - moment).total_seconds() / DAY, 0.0)

    def _decide(self, *, asset_id, rendition_id, key, size, tier, days_in_tier,
                days_since_access, reads, pinned) -> PlannedMove | None:  # fmt: skip
        if pinned:
            if pinned == tier:
                return None
            if pinned not in _POLICY_TIERS or tier not in _POLICY_TIERS:
                # To or from a tier the policy cannot price (INTELLIGENT_TIERING): staff's call.
                return PlannedMove(asset_id, key, size, tier, pinned, "pinned by staff", 0.0,
                                   rendition_id, TierTransition.Cause.STAFF)  # fmt: skip
        elif self.mode != TieringPolicy.Mode.APP or not is_due(
            tier=tier,
            size_bytes=size,
            days_since_access=days_since_access,
            reads_per_month=reads,
            thresholds=self.thresholds,
        ):
            return None  # intelligent mode, S3 manages this object, or nothing is due yet
        decision = decide(
            ObjectFacts(
                size_bytes=size,
                tier=Tier(tier),
                days_in_tier=days_in_tier,
                days_since_access=days_since_access,
                reads_per_month=reads,
                pinned=Tier(pinned) if pinned else None,
            ),
            prices=self.prices,
            thresholds=self.thresholds,
        )
        if decision.action == "stay":
            return None
        return PlannedMove(
            asset_id,
            key,
            size,
            tier,
            decision.target.value,
            decision.reason,
            decision.monthly_saving,
            rendition_id,
            TierTransition.Cause.STAFF if pinned else TierTransition.Cause.POLICY,
        )


class _Mover:
    """Moves objects on storage and counts the S3 calls (only objects that move cost any)."""

    def __init__(self) -> None:
        self.on_s3 = storage.is_s3()
        self.s3_calls = 0
        self._versioned: bool | None = None
        self.restores: list[int] = []

    def move(self, planned: PlannedMove) -> bool:
        """Move one object; False if it cannot be moved now (logged; the next sweep retries)."""
        if not self.on_s3:
            return True
        if planned.from_tier in storage.ARCHIVE_CLASSES:
            # Copying needs the bytes: restore first (tier_restore_task), which brings the
            # asset back to STANDARD; a later sweep applies the pin from there.
            self.restores.append(planned.asset_id)
            return False
        try:
            self.s3_calls += 1
            storage.tier_change(key=planned.key, tier=planned.to_tier)
            if self._bucket_versioned():
                self.s3_calls += 1  # list the key's versions
                if storage.purge_old_versions(key=planned.key):
                    self.s3_calls += 1
        except storage.ObjectArchived:
            self.restores.append(planned.asset_id)
            return False
        except (ClientError, BotoCoreError, OSError) as error:
            logger.warning("could not move %s to %s: %s", planned.key, planned.to_tier, error)
            return False
        return True

    def _bucket_versioned(self) -> bool:
        if self._versioned is None:
            self.s3_calls += 1
            self._versioned = storage.bucket_versioned()
        return self._versioned


def tiering_sweep(
    *, dry_run: bool = False, now: datetime | None = None, limit: int | None = None
) -> TieringSweep:
    """Run (or, with ``dry_run``, preview) one sweep and return its TieringSweep row.

    A real run moves objects, updates their rows' tiers and records a TierTransition for each.
    A dry run makes no S3 call and records no transition; the moves it would make are on the
    returned row as ``planned`` (the first ``limit`` when given), while its counts, bytes and
    saving cover all of them. ``now`` is the sweep's clock (default: the current time).
    """
    now = now or timezone.now()
    began = time.monotonic()
    policy = tiering_policy_get()
    mover = _Mover()
    sweep = TieringSweep.objects.create(
        started_at=now, mode=policy.mode, dry_run=dry_run, bytes_moved_on_storage=mover.on_s3
    )
    sweep.planned = []
    saving = 0.0
    failures = 0
    try:
        plan = _Plan(
            mode=policy.mode,
            now=now,
            thresholds=tiering_thresholds(policy),
            prices=tiering_prices(),
        )
        last_pk = 0
        while policy.mode != TieringPolicy.Mode.OFF:
            assets = list(
                _assets()
                .filter(pk__gt=last_pk)
                .order_by("pk")
                .values_list(*_ASSET_FIELDS)[: policy.batch_size]
            )
            if not assets:
                break
            last_pk = assets[-1][0]
            examined, moves = plan.moves(assets, list(plan.renditions_query(assets)))
            sweep.examined += examined
            if moves and not dry_run:
                moves, batch_failures = _batch_move(plan, mover, moves, sweep=sweep)
                failures += batch_failures
            for move in moves:
                sweep.moved += 1
                sweep.bytes_moved += move.object_bytes
                saving += move.monthly_saving
                if dry_run and (limit is None or len(sweep.planned) < limit):
                    sweep.planned.append(move)
        sweep.status = TieringSweep.Status.DONE
        if failures:
            sweep.error = (
                f"{failures} object(s) could not be moved now; the next sweep tries again."
            )
    except Exception as error:
        sweep.status = TieringSweep.Status.FAILED
        sweep.error = f"{type(error).__name__}: {error}"[:2000]
        raise
    finally:
        sweep.s3_calls = mover.s3_calls
        sweep.expected_monthly_saving = Decimal(f"{saving:.6f}")
        sweep.finished_at = now + timedelta(seconds=time.monotonic() - began)
        sweep.save()
        if mover.restores:
            _enqueue_restores(sorted(set(mover.restores)))
    logger.info(
        "tiering %s: examined %d, moved %d (%d bytes), %d S3 calls",
        "dry run" if dry_run else "sweep",
        sweep.examined,
        sweep.moved,
        sweep.bytes_moved,
        sweep.s3_calls,
    )
    return sweep


def _assets():
    return MediaAsset.objects.filter(
        status=MediaAsset.Status.READY, released_at__isnull=True, tier_excluded=False
    )


def _batch_move(
    plan: _Plan,
    mover: _Mover,
    candidates: list[PlannedMove],
    *,
    sweep: TieringSweep | None,
    by_range: bool = True,
) -> tuple[list[PlannedMove], int]:
    """Decide again from the candidates' rows as they are now, move what still should and
    record it; returns (moved, failures).

    No S3 call runs in a transaction or under a row lock: the rows are read (skipping those
    another sweep has locked this instant) in a short transaction, the objects are copied
    outside it, and each move is recorded in a short transaction only if its row still says
    the tier it moved from (a concurrent sweep that recorded it first wins; copying an object
    into the tier it is already in is harmless).
    """
    asset_ids = sorted({move.asset_id for move in candidates})
    with transaction.atomic():
        locked = list(
            _assets()
            .select_for_update(skip_locked=True)
            .filter(pk__in=asset_ids)
            .order_by("pk")
            .values_list(*_ASSET_FIELDS)
        )
        if not locked:
            return [], 0
        renditions = list(plan.renditions_query(locked, by_range=by_range))
    _examined, moves = plan.moves(locked, renditions)
    done: list[PlannedMove] = []
    failures = 0
    for move in moves:
        if not mover.move(move):
            failures += move.from_tier not in storage.ARCHIVE_CLASSES
            continue
        with transaction.atomic():
            if not _record_tier(move, at=plan.now):
                continue
            TierTransition.objects.create(
                asset_id=move.asset_id,
                sweep=sweep,
                key=move.key,
                object_bytes=move.object_bytes,
                from_tier=move.from_tier,
                to_tier=move.to_tier,
                cause=move.cause,
                reason=move.reason[:200],
                expected_monthly_saving=Decimal(f"{move.monthly_saving:.8f}"),
                created_at=plan.now,
            )
        done.append(move)
    return done, failures


def _record_tier(move: PlannedMove, *, at: datetime) -> bool:
    """Record the object in its new tier if its row still says the old one; True if it did."""
    if move.rendition_id is None:
        return bool(
            MediaAsset.objects.filter(
                pk=move.asset_id,
                original_key=move.key,
                storage_tier=move.from_tier,
                released_at__isnull=True,
            ).update(storage_tier=move.to_tier, tier_changed_at=at)
        )
    return bool(
        MediaRendition.objects.filter(pk=move.rendition_id, storage_tier=move.from_tier).update(
            storage_tier=move.to_tier, tier_changed_at=at
        )
    )


def _enqueue_restores(asset_ids: list[int]) -> None:
    for asset_id in asset_ids:
        tiering_restore_request(asset_id=asset_id)
