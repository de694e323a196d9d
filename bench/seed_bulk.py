"""Bulk-create a large, realistic data set for benchmarks: people, boards, pins, saves, follows.

    --users 10000 --boards 50000 --pins 1000000 [--sample-bytes 100] [--seed 8]

A command of the benchmarks, not of an installed app: ``bench.pages.seed_bulk(env, *args)`` runs
it in its own process (``make bench ONLY=pages`` does), and tests call ``Command()`` directly.

Shapes follow power laws (Zipf-like), as on a real visual site: a few people pin, save and are
followed far more than most, a few pins are saved thousands of times, most boards are small.
Every row is valid: the database's CHECK and UNIQUE constraints hold, pins on secret boards are
never saved by others, each pin is on one board, a save shares its origin's media asset.

Rows go in with COPY on PostgreSQL (multi-row INSERTs elsewhere, for small sizes on SQLite) with
ids chosen here, in one transaction; the id sequences are moved past them afterwards. Nothing is
disabled: indexes, constraints and foreign keys are all checked as the rows arrive.

Media rows are ``ready`` with their WebP renditions (grid 236/474/736 and the large view),
dimensions, dominant colour and ThumbHash placeholder, modelled on the demo photographs; only a
sample of them (``--sample-bytes``) has its rendition bytes in storage, since the pages being
measured sign URLs and never read the bytes.

Idempotent: on a database that already holds exactly the requested counts it only restores any
missing sample objects (an in-memory S3 server forgets them on restart); on any other non-empty
database it refuses and changes nothing. Refuses to run in production.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import random
import time
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.core.management.color import no_style
from django.db import connection, transaction
from django.utils.text import slugify

from accounts.models import Profile, User, UserFollow
from boards.models import POSITION_GAP, Board, BoardCollaborator, BoardFollow, BoardPin
from media import images, storage
from media.models import MediaAsset, MediaRendition
from pins.models import Pin
from pinsite import page_cache

SEED_PASSWORD = "pinsite-bench"  # noqa: S105 - every seeded person's password; refused in production
DEMO_DIR = settings.BASE_DIR / "demo" / "photos"
DAYS = 730  # pins are spread over the last two years
SECRET_SHARE = 0.05
GROUP_SHARE = 0.03
SAVE_SHARE = 0.3  # of all pins, saves of another person's pin
FOLLOWS_PER_USER = 20
BOARD_FOLLOWS_PER_USER = 5

# Words for titles, descriptions and board names, most frequent first (titles draw them
# Zipf-like, so two-word searches have realistic hit counts from a handful to thousands).
WORDS = """
home garden kitchen summer recipe vintage modern wedding travel style design ideas easy
winter autumn spring diy art photo small living room outdoor light cozy minimal rustic
color blue green white black red yellow pink wood stone flower flowers tree forest beach
ocean mountain lake river sunset sunrise city street night morning coffee cake bread
chocolate salad soup pasta healthy dinner lunch breakfast dessert party birthday gift
holiday christmas fall decor interior bedroom bathroom office desk shelf table chair lamp
window door wall floor rug pillow blanket plant plants succulent herb vegetable fruit
apple lemon berry cookie pie tea wine cocktail drink fashion outfit dress shoes jacket
sweater bag jewelry ring necklace hair makeup nails beauty skin care fitness yoga workout
run hiking camping road trip map car bike boat train plane hotel cabin house cottage
farm barn village castle bridge tower museum gallery painting drawing sketch watercolor
poster print pattern texture fabric quilt knit crochet sewing paper card craft kids baby
dog cat bird horse butterfly bee garden-party picnic backyard patio porch pool fireplace
library book reading quote words typography logo brand shop market bakery cafe restaurant
pizza burger taco noodle rice curry spice sauce cheese butter honey jam snow rain storm
cloud sky star moon sun desert island tropical palm leaf leaves moss fern rose tulip
daisy lavender sunflower orchid cactus pottery ceramic glass copper brass gold silver
marble concrete brick tile linen cotton wool leather velvet retro classic boho scandinavian
japanese french italian mexican nordic coastal industrial farmhouse cottagecore antique
""".split()  # noqa: SIM905 - a paragraph of words reads better than a list
FIRST_NAMES = (
    "Ada Ben Cleo Dev Eli Fay Gus Hana Ivo Jun Kai Lea Mo Nia Oli Pia Quin Rey Sol Tia".split()  # noqa: SIM905
)
LAST_NAMES = (
    "Abe Berg Cruz Diaz Eng Fox Gray Holm Ito Joss Kim Lund Moss Ng Ortiz Park Ruiz Sato".split()  # noqa: SIM905
)
WIDTHS = (236, 474, 736)
LARGE_WIDTH = 1472


@dataclass(frozen=True)
class Sizes:
    users: int
    boards: int
    pins: int


@dataclass(frozen=True)
class Template:
    """What a demo photograph's processing produced; seeded assets copy its shape and look."""

    width: int
    height: int
    color: str
    placeholder: str
    renditions: list[tuple[str, int, int, bytes]]  # (purpose, width, height, WebP bytes)


class Zipf:
    """Draws 0..n-1 with probability proportional to 1 / (rank + 1) ** exponent."""

    def __init__(self, n: int, exponent: float, rng: random.Random) -> None:
        self.cumulative = list(
            itertools.accumulate(1 / (rank + 1) ** exponent for rank in range(n))
        )
        self.rng = rng

    def draw(self) -> int:
        return bisect_left(self.cumulative, self.rng.random() * self.cumulative[-1])


def seeded_counts() -> Sizes:
    return Sizes(User.objects.count(), Board.objects.count(), Pin.objects.count())


class Command(BaseCommand):
    help = "Bulk-create people, boards, pins, saves and follows with power-law shapes (benchmarks)."

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, default=10_000)
        parser.add_argument("--boards", type=int, default=50_000)
        parser.add_argument("--pins", type=int, default=1_000_000)
        parser.add_argument(
            "--sample-bytes",
            type=int,
            default=100,
            metavar="N",
            help="Media assets whose rendition bytes are put in storage (the rest are rows only).",
        )
        parser.add_argument("--seed", type=int, default=8, help="Random seed (same data each run).")

    def handle(self, *args, users: int, boards: int, pins: int, sample_bytes: int, seed: int, **_):
        if settings.PRODUCTION:
            raise CommandError(
                "seed_bulk creates people with a published password; not in production."
            )
        wanted = Sizes(users, boards, pins)
        if users < 2 or boards < users or pins < boards:
            raise CommandError(
                "Need at least 2 users, a board per user and a pin per board "
                f"(got --users {users} --boards {boards} --pins {pins})."
            )
        began = time.monotonic()
        have = seeded_counts()
        if have == wanted:
            self.stdout.write(f"Already seeded: {users} users, {boards} boards, {pins} pins.")
        elif have != Sizes(0, 0, 0):
            raise CommandError(
                f"The database already holds {have.users} users, {have.boards} boards and "
                f"{have.pins} pins; seed_bulk only fills an empty database (or one it seeded with "
                "the same sizes). Use a fresh database, or `manage.py flush` first."
            )
        else:
            rng = random.Random(seed)  # noqa: S311 - made-up data
            Seeder(wanted, _templates(), rng, self.stdout).run()
        sampled = _sample_bytes(sample_bytes)
        took = time.monotonic() - began
        self.stdout.write(
            f"seed_bulk: {users} users, {boards} boards, {pins} pins ready in {took:.1f} s "
            f"({sampled} sample objects written to storage)."
        )
        self.stdout.write(f"seed_seconds={took:.2f}")


@functools.cache
def _templates() -> list[Template]:
    """Process the demo photographs once: real sizes, colours, placeholders and bytes."""
    found = []
    for path in sorted(DEMO_DIR.iterdir()):
        processed = images.process_image(path.read_bytes())
        webp = [r for r in processed.renditions if r.format == "webp"]
        found.append(
            Template(
                width=processed.info.width,
                height=processed.info.height,
                color=processed.color,
                placeholder=processed.placeholder,
                renditions=[(r.purpose, r.width, r.height, r.data) for r in webp],
            )
        )
    return found


def _original_key(asset_id: int) -> str:
    return f"originals/seed/{asset_id:08d}.jpg"


def _renditions(asset_id: int, template: Template) -> Iterator[tuple]:
    key = _original_key(asset_id)
    for purpose, width, height, data in template.renditions:
        yield (
            purpose,
            width,
            height,
            storage.rendition_key(original_key=key, purpose=purpose, width=width, fmt="webp"),
            data,
        )


def _sample_bytes(count: int) -> int:
    """Put the rendition bytes of ``count`` assets, spread over all ids, where storage lacks them."""
    total = MediaAsset.objects.count()
    if count <= 0 or total == 0:
        return 0
    ids = sorted({1 + index * total // count for index in range(min(count, total))})
    templates = _templates()
    objects = [
        (key, data)
        for asset_id in ids
        for *_, key, data in _renditions(asset_id, templates[asset_id % len(templates)])
    ]

    def put(item: tuple[str, bytes]) -> int:
        from django.core.files.storage import default_storage

        key, data = item
        if default_storage.exists(key):
            return 0
        storage.put_bytes(key=key, data=data, fmt="webp")
        return 1

    with ThreadPoolExecutor(8) as pool:
        return sum(pool.map(put, objects))


class Seeder:
    def __init__(self, sizes: Sizes, templates: list[Template], rng: random.Random, out) -> None:
        self.sizes, self.templates, self.rng, self.out = sizes, templates, rng, out
        self.now = datetime.now(UTC)
        self.start = self.now - timedelta(days=DAYS)
        self.zone = "+00:00" if connection.vendor == "postgresql" else ""

    def _stamp(self, fraction: float) -> str:
        moment = self.start + (self.now - self.start) * fraction
        # SQLite keeps Django's naive UTC text form; PostgreSQL is told the zone.
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f") + self.zone

    def run(self) -> None:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                # Check foreign keys per statement rather than queueing millions of checks
                # for the commit; rows go in after the rows they point at.
                with connection.cursor() as cursor:
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            self._users()
            self._boards()
            self._pins()
            self._follows()
            with connection.cursor() as cursor:
                models = [User, Board, BoardCollaborator, BoardPin, BoardFollow, UserFollow]
                for sql in connection.ops.sequence_reset_sql(
                    no_style(), [*models, MediaAsset, MediaRendition, Pin]
                ):
                    cursor.execute(sql)
        # COPY sends no model signals: retire any cached page, as every bulk write must.
        page_cache.visibility_changed()
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")  # fresh statistics, as autovacuum would make shortly

    def _step(self, label: str, began: float, rows: int) -> None:
        self.out.write(f"  {label}: {rows} rows in {time.monotonic() - began:.1f} s")

    # --- people ---------------------------------------------------------------------------------

    def _users(self) -> None:
        began = time.monotonic()
        password = make_password(SEED_PASSWORD)  # one hash for all: hashing 10k is minutes
        joined = self._stamp(0)
        users = (
            (
                n,
                password,
                False,
                f"user{n:05d}",
                "",
                "",
                f"user{n:05d}@example.com",
                False,
                True,
                joined,
            )
            for n in range(1, self.sizes.users + 1)
        )
        columns = [
            "id", "password", "is_superuser", "username", "first_name", "last_name", "email",
            "is_staff", "is_active", "date_joined",
        ]  # fmt: skip
        _write(User, columns, users)
        profiles = (
            (n, self._person_name(n), self._sentence(8), "", joined)
            for n in range(1, self.sizes.users + 1)
        )
        _write(Profile, ["user_id", "display_name", "bio", "website", "updated_at"], profiles)
        self._step("users and profiles", began, 2 * self.sizes.users)

    # --- boards ---------------------------------------------------------------------------------

    def _boards(self) -> None:
        began = time.monotonic()
        users, rng = self.sizes.users, self.rng
        # Everyone has a board; the rest go Zipf-like to the more active people.
        owners = list(range(1, users + 1))
        by_activity = Zipf(users, 0.6, rng)
        owners += [1 + by_activity.draw() for _ in range(self.sizes.boards - users)]
        self.user_boards: dict[int, list[int]] = {}
        self.board_owner: list[int] = [0]
        self.board_secret: list[bool] = [False]
        rows: list[tuple] = []
        names_taken: set[tuple[int, str]] = set()
        for board_id, owner in enumerate(owners, start=1):
            name = self._board_name(owner, names_taken)
            secret = rng.random() < SECRET_SHARE
            self.user_boards.setdefault(owner, []).append(board_id)
            self.board_owner.append(owner)
            self.board_secret.append(secret)
            stamp = self._stamp(rng.random() * 0.5)
            rows.append(
                (board_id, owner, name, slugify(name), self._sentence(6), secret, stamp, stamp)
            )
        columns = [
            "id",
            "owner_id",
            "name",
            "slug",
            "description",
            "is_secret",
            "created_at",
            "updated_at",
        ]
        _write(Board, columns, rows)
        members: list[tuple[int, int, int, int, str]] = []
        for board_id in range(1, len(owners) + 1):
            if rng.random() >= GROUP_SHARE:
                continue
            owner = self.board_owner[board_id]
            for user in {1 + rng.randrange(users) for _ in range(rng.randint(1, 3))} - {owner}:
                members.append((len(members) + 1, board_id, user, owner, self._stamp(0.5)))
                self.user_boards.setdefault(user, []).append(board_id)
        _write(
            BoardCollaborator, ["id", "board_id", "user_id", "invited_by_id", "created_at"], members
        )
        self._step("boards and collaborators", began, len(rows) + len(members))

    def _board_name(self, owner: int, taken: set[tuple[int, str]]) -> str:
        base = f"{self._word().capitalize()} {self._word()}"
        name, n = base, 1
        while (owner, name.lower()) in taken or (owner, slugify(name)) in taken:
            n += 1
            name = f"{base} {n}"
        taken.add((owner, name.lower()))
        taken.add((owner, slugify(name)))
        return name

    # --- pins, media, placements ----------------------------------------------------------------

    def _pins(self) -> None:
        began = time.monotonic()
        rng, sizes = self.rng, self.sizes
        saves = int(sizes.pins * SAVE_SHARE)
        originals = sizes.pins - saves
        pin_owner = Zipf(sizes.users, 0.8, rng)
        board_pick = {}  # per number of boards: which of a person's boards gets the pin
        positions: dict[int, int] = {}
        # Per original pin: (owner, media id, created fraction, title, description, public).
        made: list[tuple[int, int, float, str, str, bool]] = []

        def board_for(user: int) -> int:
            mine = self.user_boards[user]
            if len(mine) not in board_pick:
                board_pick[len(mine)] = Zipf(len(mine), 1.2, rng)
            return mine[board_pick[len(mine)].draw()]

        def placement(pin_id: int, board_id: int, user: int, stamp: str) -> tuple:
            position = positions.get(board_id, POSITION_GAP) - POSITION_GAP
            positions[board_id] = position
            return (pin_id, board_id, pin_id, position, user, stamp)

        assets, renditions, placements = [], [], []
        # (id, owner, root, parent, title, description, alt text, source, created)
        pins: list[tuple[int, int, int, int | None, str, str, str, str, str]] = []

        def original(pin_id: int) -> None:
            owner = 1 + pin_owner.draw()
            board = board_for(owner)
            fraction = (pin_id - 1 + rng.random()) / originals
            stamp = self._stamp(fraction)
            template = self.templates[pin_id % len(self.templates)]
            digest = hashlib.sha256(b"seed-%d" % pin_id).hexdigest()
            assets.append(
                (pin_id, owner, "image", _original_key(pin_id), digest, 150_000 + pin_id % 900_000,
                 "jpeg", template.width, template.height, "ready", 0, "", template.color,
                 template.placeholder, "STANDARD", stamp, stamp, stamp)
            )  # fmt: skip
            for purpose, width, height, key, data in _renditions(pin_id, template):
                renditions.append((purpose, width, height, "webp", key, len(data), stamp, pin_id))
            title = " ".join(self._word() for _ in range(rng.randint(2, 4))).capitalize()
            description = self._sentence(rng.randint(6, 14))
            source = f"https://example.com/{self._word()}/{pin_id}" if rng.random() < 0.5 else ""
            pins.append((pin_id, owner, pin_id, None, title, description, title, source, stamp))
            placements.append(placement(pin_id, board, owner, stamp))
            made.append((owner, pin_id, fraction, title, description, not self.board_secret[board]))

        for pin_id in range(1, originals + 1):
            original(pin_id)
            if len(pins) >= 50_000:
                self._flush_pins(assets, renditions, pins, placements)
        self._flush_pins(assets, renditions, pins, placements)

        # Saves: a popular public pin, by someone else, onto one of their boards, after it appeared.
        public = [index for index, row in enumerate(made) if row[5]]
        rng.shuffle(public)  # popularity does not follow age
        popularity = Zipf(len(public), 0.9, rng)
        saver = Zipf(sizes.users, 0.8, rng)
        seen = set()
        pin_id = originals
        while pin_id < sizes.pins:
            owner, parent, fraction, title, description, _ = made[public[popularity.draw()]]
            user = 1 + saver.draw()
            if user == owner or (user, parent) in seen:
                user = 1 + rng.randrange(sizes.users)
                if user == owner or (user, parent) in seen:
                    continue
            seen.add((user, parent))
            pin_id += 1
            stamp = self._stamp(fraction + (1 - fraction) * rng.random() ** 3)
            pins.append((pin_id, user, parent, parent, title, description, title, "", stamp))
            placements.append(placement(pin_id, board_for(user), user, stamp))
            if len(pins) >= 50_000:
                self._flush_pins(assets, renditions, pins, placements)
        self._flush_pins(assets, renditions, pins, placements)
        self._step("pins, media, renditions and placements", began, sizes.pins)

    def _flush_pins(self, assets: list, renditions: list, pins: list, placements: list) -> None:
        asset_columns = [
            "id", "owner_id", "kind", "original_key", "content_hash", "byte_size", "format",
            "width", "height", "status", "interrupted_runs", "failure_reason", "dominant_color",
            "placeholder", "storage_tier", "created_at", "updated_at", "processed_at",
        ]  # fmt: skip
        _write(MediaAsset, asset_columns, assets)
        rendition_columns = [
            "purpose",
            "width",
            "height",
            "format",
            "key",
            "byte_size",
            "created_at",
            "asset_id",
        ]
        _write(MediaRendition, rendition_columns, renditions)
        pin_columns = [
            "id", "owner_id", "media_id", "parent_id", "title", "description", "alt_text",
            "source_url", "created_at",
        ]  # fmt: skip
        _write(Pin, pin_columns, ((*row, "visible", "", row[-1]) for row in pins),
               extra=["moderation_state", "moderation_note", "updated_at"])  # fmt: skip
        placement_columns = ["id", "board_id", "pin_id", "position", "added_by_id", "added_at"]
        _write(BoardPin, placement_columns, placements)
        for rows in (assets, renditions, pins, placements):
            rows.clear()

    # --- follows --------------------------------------------------------------------------------

    def _follows(self) -> None:
        began = time.monotonic()
        rng, users = self.rng, self.sizes.users
        popular = Zipf(users, 1.0, rng)
        pairs = set()
        for _ in range(users * FOLLOWS_PER_USER):
            follower, followee = 1 + rng.randrange(users), 1 + popular.draw()
            if follower != followee:
                pairs.add((follower, followee))
        rows = (
            (n, a, b, self._stamp(0.5 + rng.random() / 2))
            for n, (a, b) in enumerate(sorted(pairs), start=1)
        )
        _write(UserFollow, ["id", "follower_id", "followee_id", "created_at"], rows)
        public = [b for b in range(1, len(self.board_owner)) if not self.board_secret[b]]
        liked = Zipf(len(public), 1.0, rng)
        board_pairs = set()
        for _ in range(users * BOARD_FOLLOWS_PER_USER):
            follower, board = 1 + rng.randrange(users), public[liked.draw()]
            if self.board_owner[board] != follower:
                board_pairs.add((follower, board))
        rows = (
            (n, a, b, self._stamp(0.5 + rng.random() / 2))
            for n, (a, b) in enumerate(sorted(board_pairs), start=1)
        )
        _write(BoardFollow, ["id", "follower_id", "board_id", "created_at"], rows)
        self._step("follows of people and boards", began, len(pairs) + len(board_pairs))

    # --- words ----------------------------------------------------------------------------------

    def _word(self) -> str:
        if not hasattr(self, "_words"):
            self._words = Zipf(len(WORDS), 1.0, self.rng)
        return WORDS[self._words.draw()]

    def _person_name(self, n: int) -> str:
        return f"{FIRST_NAMES[n % len(FIRST_NAMES)]} {LAST_NAMES[n // len(FIRST_NAMES) % len(LAST_NAMES)]}"

    def _sentence(self, words: int) -> str:
        return " ".join(self._word() for _ in range(words)).capitalize() + "."


def _write(model, columns: list[str], rows: Iterable[tuple], extra: Sequence[str] = ()) -> None:
    """Insert ``rows`` into ``model``'s table: COPY on PostgreSQL, batched INSERTs elsewhere."""
    table = model._meta.db_table
    names = [*columns, *extra]
    # Columns this command does not name (added by later migrations) get their model default
    # ("" for a blank text field), as the ORM would write them: NOT NULL columns have no
    # database default. Generated columns are the database's to fill.
    defaults = [
        (field.column, field.get_default())
        for field in model._meta.concrete_fields
        if field.column not in names
        and not field.null
        and not field.primary_key
        and not field.generated
    ]
    if defaults:
        names += [column for column, _ in defaults]
        values = tuple(value for _, value in defaults)
        rows = (row + values for row in rows)
    quoted = ", ".join(connection.ops.quote_name(name) for name in names)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(
                f"COPY {connection.ops.quote_name(table)} ({quoted}) FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row(row)
            return
        # Names come from the models, values are parameters.
        sql = f"INSERT INTO {connection.ops.quote_name(table)} ({quoted}) VALUES ({', '.join(['%s'] * len(names))})"  # noqa: S608
        iterator = iter(rows)
        while batch := list(itertools.islice(iterator, 5000)):
            cursor.executemany(sql, batch)
