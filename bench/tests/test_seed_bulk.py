"""seed_bulk: the benchmarks' data, at a tiny size, on the session's database."""

from __future__ import annotations

import io
import statistics
from collections import Counter

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db.models import Count, F

from accounts.models import Profile, User, UserFollow
from bench import seed_bulk
from bench.seed_bulk import SAVE_SHARE, SEED_PASSWORD
from boards.models import Board, BoardFollow, BoardPin
from media.models import MediaAsset, MediaRendition
from pins.models import Pin

pytestmark = pytest.mark.django_db

SIZES = {"users": 60, "boards": 180, "pins": 3000}


def seed(**sizes) -> str:
    out = io.StringIO()
    call_command(seed_bulk.Command(), **{**SIZES, **sizes}, sample_bytes=2, stdout=out)
    return out.getvalue()


def test_seed_bulk_makes_valid_rows_with_power_law_shapes():
    output = seed()
    assert "seed_seconds=" in output

    assert User.objects.count() == SIZES["users"] == Profile.objects.count()
    assert Board.objects.count() == SIZES["boards"]
    assert Pin.objects.count() == SIZES["pins"]
    saves = Pin.objects.filter(parent__isnull=False)
    assert saves.count() == int(SIZES["pins"] * SAVE_SHARE)
    # Each pin is on exactly one board; a save shares its origin's media, is someone else's,
    # came later, and was made from a pin on a public board.
    assert BoardPin.objects.count() == SIZES["pins"]
    assert not Pin.objects.annotate(n=Count("placements")).exclude(n=1).exists()
    assert not saves.exclude(media_id=F("parent__media_id")).exists()
    assert not saves.filter(owner_id=F("parent__owner_id")).exists()
    assert not saves.filter(created_at__lt=F("parent__created_at")).exists()
    assert not saves.filter(parent__placements__board__is_secret=True).exists()
    # Boards of both kinds; pins can be found again by a seeded person with the seeded password.
    assert Board.objects.filter(is_secret=True).exists()
    assert Board.objects.filter(is_secret=False).exists()
    someone = User.objects.order_by("?").first()
    assert someone is not None
    assert someone.check_password(SEED_PASSWORD)
    # Every asset is ready with its size and WebP renditions; only the sample has bytes.
    originals = SIZES["pins"] - saves.count()
    assert MediaAsset.objects.filter(status="ready", width__gt=0, height__gt=0).count() == originals
    assert not MediaAsset.objects.annotate(n=Count("renditions")).filter(n=0).exists()
    assert MediaRendition.objects.filter(purpose="grid", format="webp").count() >= 3 * originals
    first = MediaRendition.objects.filter(asset_id=1).first()
    assert first is not None
    assert default_storage.exists(first.key)
    last = MediaRendition.objects.order_by("-asset_id").first()
    assert last is not None
    assert not default_storage.exists(last.key)
    # New rows made the ordinary way do not collide with the seeded ids.
    assert User.objects.create(username="after-seed").pk == SIZES["users"] + 1

    # Power laws: the busiest tenth of the people make far more than a tenth of the pins, the
    # most followed person has many times the median follower count, a few pins are saved
    # again and again while most are never saved.
    made = sorted(Counter(Pin.objects.values_list("owner_id", flat=True)).values(), reverse=True)
    assert sum(made[: SIZES["users"] // 10]) > 2 * SIZES["pins"] / 10
    followers = Counter(UserFollow.objects.values_list("followee_id", flat=True))
    assert max(followers.values()) >= 4 * statistics.median(followers.values())
    saved = Counter(saves.values_list("parent_id", flat=True))
    assert max(saved.values()) >= 10
    assert len(saved) < originals / 2
    assert BoardFollow.objects.exists()


def test_seed_bulk_reuses_the_same_sizes_and_refuses_other_data():
    seed()
    counts = (User.objects.count(), Pin.objects.count(), MediaRendition.objects.count())
    assert "Already seeded" in seed()
    with pytest.raises(CommandError, match="already holds 60 users"):
        seed(pins=4000)
    assert (User.objects.count(), Pin.objects.count(), MediaRendition.objects.count()) == counts


def test_seed_bulk_refuses_impossible_sizes():
    with pytest.raises(CommandError, match="a board per user"):
        seed(boards=10)
    assert not User.objects.exists()
