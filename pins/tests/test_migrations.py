"""The move of the media and tiering models out of pins loses nothing, on SQLite and PostgreSQL.

pins 0008, media 0001, tiering 0001 and accounts 0003 move MediaAsset, MediaRendition,
PendingUpload (to ``media``) and TieringPolicy, TieringSweep, TierTransition, StorageSnapshot (to
``tiering``) in Django's state only: the tables stay ``pins_*``. These tests build a database as it
was just before the move, fill it through the historical models, and migrate it with Django's
MigrationExecutor. They prove that afterwards

* every row is still there with the same id, and every storage key (original, renditions, tier
  transition, pending upload) is unchanged;
* the foreign keys resolve through the new apps: pin.media, rendition.asset, transition.asset,
  transition.sweep, upload.asset, profile.avatar;
* the content types say ``media`` / ``tiering`` and a user granted a permission on a moved model
  still has it, under its new name;
* migrating back to the state before the move works, keeps all of the above under ``pins``, and
  migrating forward again gives the same result.

Each test runs on a database of its own, never the session's test database: a temporary SQLite
file, and a fresh database on the session's PostgreSQL server (skipped, like every test that needs
the real services, only outside CI when they could not start).
"""

from __future__ import annotations

import contextlib
import datetime
import uuid
from collections.abc import Iterator, Sequence
from decimal import Decimal

import psycopg
import pytest
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.test import override_settings
from psycopg import sql

ALIAS = "migration_test"

# The graph just before the move: the new apps not migrated, pins and accounts one step back.
BEFORE_MOVE = [
    ("media", None),
    ("tiering", None),
    ("pins", "0007_saves_index"),
    ("accounts", "0002_initial"),
]
MOVED = {
    "media": ["mediaasset", "mediarendition", "pendingupload"],
    "tiering": ["tieringpolicy", "tieringsweep", "tiertransition", "storagesnapshot"],
}
PERMISSIONS = {"mediaasset": "change_mediaasset", "tieringpolicy": "change_tieringpolicy"}

ORIGINAL_KEY = "originals/2025/01/moved-asset.jpg"
RENDITION_KEYS = {
    "grid": "renditions/moved-asset/grid-236.webp",
    "large": "renditions/moved-asset/large-736.webp",
}
TRANSITION_KEY = ORIGINAL_KEY
UPLOAD_KEY = "uploads/1/moved-upload"


class EverythingTo:
    """Routes every read, write and migration to one database, as pinsite's router does to its
    writer: the migrations' RunPython code runs on the database being migrated."""

    def __init__(self, alias: str) -> None:
        self.alias = alias

    def db_for_read(self, model, **hints) -> str:
        return self.alias

    def db_for_write(self, model, **hints) -> str:
        return self.alias

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        return True

    def allow_migrate(self, db: str, app_label: str, **hints) -> bool:
        return db == self.alias


@contextlib.contextmanager
def extra_database(config: dict) -> Iterator[str]:
    """``config`` as the connection alias ALIAS, and the only database routed to, meanwhile."""
    # configure_settings fills in what Django defaults for any database (it insists on "default").
    connections.databases[ALIAS] = connections.configure_settings({DEFAULT_DB_ALIAS: config})[
        DEFAULT_DB_ALIAS
    ]
    try:
        with override_settings(DATABASE_ROUTERS=[EverythingTo(ALIAS)]):
            yield ALIAS
    finally:
        connections[ALIAS].close()
        del connections[ALIAS]
        del connections.databases[ALIAS]


@contextlib.contextmanager
def fresh_postgresql_database(services) -> Iterator[dict]:
    """A new, empty database on the session's PostgreSQL server (dropped afterwards)."""
    from django.conf import settings

    server_url = services.env()["DATABASE_URL"]
    name = f"pinsite_migration_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield {**settings.DATABASES[DEFAULT_DB_ALIAS], "NAME": name, "TEST": {}}
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path, django_db_blocker) -> Iterator[str]:
    """The alias of an empty database of the kind asked for, used by nothing else."""
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            config = {"ENGINE": "django.db.backends.sqlite3", "NAME": tmp_path / "moved.sqlite3"}
        else:
            services = request.getfixturevalue("services")  # skips as other stack tests do
            config = stack.enter_context(fresh_postgresql_database(services))
            assert config["ENGINE"] == "django.db.backends.postgresql"
        stack.enter_context(django_db_blocker.unblock())
        yield stack.enter_context(extra_database(config))


def migrate(alias: str, targets: Sequence[tuple[str, str | None]]):
    """Migrate the database to ``targets``; the historical apps registry of the result."""
    executor = MigrationExecutor(connections[alias])
    executor.migrate(targets)
    executor.loader.build_graph()  # re-reads what is applied now
    applied = [(app, name) for app, name in targets if name is not None]
    return executor.loader.project_state(applied).apps


def before_move(alias: str) -> list[tuple[str, str | None]]:
    """BEFORE_MOVE plus every other app at its latest migration (none of them needs the move)."""
    graph = MigrationExecutor(connections[alias]).loader.graph
    pinned = {app for app, _ in BEFORE_MOVE}
    return BEFORE_MOVE + [leaf for leaf in graph.leaf_nodes() if leaf[0] not in pinned]


def after_move(alias: str) -> list[tuple[str, str]]:
    return MigrationExecutor(connections[alias]).loader.graph.leaf_nodes()


def applied(alias: str) -> set[tuple[str, str]]:
    return set(MigrationExecutor(connections[alias]).loader.applied_migrations)


def seed_before_move(apps) -> dict[str, int]:
    """One of everything the move touches, made through the models as they were before it."""

    def model(label: str):
        return apps.get_model(label)

    now = datetime.datetime(2025, 1, 15, 12, 0, tzinfo=datetime.UTC)
    user = model("accounts.User").objects.create(username="mover", email="mover@example.com")
    board = model("boards.Board").objects.create(owner=user, name="Moving day", slug="moving-day")
    asset = model("pins.MediaAsset").objects.create(
        owner=user,
        original_key=ORIGINAL_KEY,
        status="ready",
        format="jpeg",
        width=1200,
        height=900,
        byte_size=345_678,
    )
    renditions = {
        purpose: model("pins.MediaRendition").objects.create(
            asset=asset,
            purpose=purpose,
            width=width,
            height=width * 3 // 4,
            format="webp",
            key=RENDITION_KEYS[purpose],
            byte_size=width * 100,
        )
        for purpose, width in [("grid", 236), ("large", 736)]
    }
    pin = model("pins.Pin").objects.create(owner=user, media=asset, title="A pin that moves")
    board_pin = model("boards.BoardPin").objects.create(
        board=board, pin=pin, position=1024, added_by=user
    )
    upload = model("pins.PendingUpload").objects.create(
        owner=user,
        key=UPLOAD_KEY,
        max_bytes=20_000_000,
        expires_at=now,
        confirmed_at=now,
        asset=asset,
    )
    policy = model("pins.TieringPolicy").objects.create(pk=1, updated_by=user, batch_size=250)
    sweep = model("pins.TieringSweep").objects.create(mode="app", status="done", finished_at=now)
    transition = model("pins.TierTransition").objects.create(
        asset=asset,
        sweep=sweep,
        key=TRANSITION_KEY,
        object_bytes=345_678,
        from_tier="STANDARD",
        to_tier="STANDARD_IA",
        reason="not read for 30 days",
        expected_monthly_saving=Decimal("0.00345678"),
    )
    snapshot = model("pins.StorageSnapshot").objects.create(
        day=datetime.date(2025, 1, 15),
        objects_by_tier={"STANDARD": 2, "STANDARD_IA": 1},
        bytes_by_tier={"STANDARD": 100_000, "STANDARD_IA": 345_678},
        monthly_cost=Decimal("0.0123"),
        monthly_cost_all_standard=Decimal("0.0150"),
        monthly_cost_intelligent=Decimal("0.0140"),
    )
    model("accounts.Profile").objects.create(user=user, avatar=asset)

    # The content types (and a permission granted on each) as post_migrate made them under pins.
    ContentType, Permission = model("contenttypes.ContentType"), model("auth.Permission")
    for app_models in MOVED.values():
        for name in app_models:
            content_type = ContentType.objects.create(app_label="pins", model=name)
            if name in PERMISSIONS:
                user.user_permissions.add(
                    Permission.objects.create(
                        content_type=content_type, codename=PERMISSIONS[name], name=name
                    )
                )
    return {
        "user": user.pk,
        "board": board.pk,
        "asset": asset.pk,
        "grid": renditions["grid"].pk,
        "large": renditions["large"].pk,
        "pin": pin.pk,
        "board_pin": board_pin.pk,
        "upload": upload.pk,
        "policy": policy.pk,
        "sweep": sweep.pk,
        "transition": transition.pk,
        "snapshot": snapshot.pk,
    }


def assert_nothing_lost(apps, ids: dict[str, int], *, media: str, tiering: str) -> None:
    """Every seeded row, key, relation and permission, read with the models labelled as given."""

    def get(label: str, key: str):
        return apps.get_model(label).objects.get(pk=ids[key])

    asset = get(f"{media}.MediaAsset", "asset")
    assert asset.original_key == ORIGINAL_KEY
    assert asset.owner_id == ids["user"]
    for purpose in RENDITION_KEYS:
        rendition = get(f"{media}.MediaRendition", purpose)
        assert (rendition.key, rendition.purpose) == (RENDITION_KEYS[purpose], purpose)
        assert rendition.asset.original_key == ORIGINAL_KEY
    upload = get(f"{media}.PendingUpload", "upload")
    assert (upload.key, upload.asset.pk, upload.owner_id) == (UPLOAD_KEY, ids["asset"], ids["user"])

    pin = get("pins.Pin", "pin")
    assert pin.media.original_key == ORIGINAL_KEY
    board_pin = get("boards.BoardPin", "board_pin")
    assert (board_pin.pin_id, board_pin.board_id) == (ids["pin"], ids["board"])
    profile = apps.get_model("accounts.Profile").objects.get(user_id=ids["user"])
    assert profile.avatar.original_key == ORIGINAL_KEY

    transition = get(f"{tiering}.TierTransition", "transition")
    assert transition.key == TRANSITION_KEY
    assert transition.asset.original_key == ORIGINAL_KEY
    assert transition.sweep.pk == ids["sweep"]
    assert get(f"{tiering}.TieringPolicy", "policy").updated_by_id == ids["user"]
    assert get(f"{tiering}.StorageSnapshot", "snapshot").bytes_by_tier["STANDARD_IA"] == 345_678

    # One row each, no copies: the tables were neither copied nor emptied.
    for label in [f"{media}.MediaAsset", f"{media}.PendingUpload", f"{tiering}.TieringPolicy"]:
        assert apps.get_model(label).objects.count() == 1
    assert apps.get_model(f"{media}.MediaRendition").objects.count() == 2

    ContentType, Permission = (
        apps.get_model("contenttypes.ContentType"),
        apps.get_model("auth.Permission"),
    )
    labelled = {app: (media if app == "media" else tiering) for app in MOVED}
    assert set(ContentType.objects.values_list("app_label", "model")) == {
        (labelled[app], name) for app, names in MOVED.items() for name in names
    }
    granted = Permission.objects.filter(user__pk=ids["user"])
    assert set(granted.values_list("content_type__app_label", "codename")) == {
        (media, "change_mediaasset"),
        (tiering, "change_tieringpolicy"),
    }


def test_migrating_past_the_move_keeps_every_row_key_and_permission(database):
    ids = seed_before_move(migrate(database, before_move(database)))
    assert ("pins", "0008_media_and_tiering_move_out") not in applied(database)

    apps = migrate(database, after_move(database))

    assert_nothing_lost(apps, ids, media="media", tiering="tiering")
    # The real models agree, and Django's auth sees the permissions under their new names.
    from accounts.models import User
    from media.models import MediaAsset

    assert MediaAsset.objects.get(pk=ids["asset"]).original_key == ORIGINAL_KEY
    user = User.objects.get(pk=ids["user"])
    assert user.has_perm("media.change_mediaasset")
    assert user.has_perm("tiering.change_tieringpolicy")
    assert not user.has_perm("pins.change_mediaasset")


def test_migrating_back_before_the_move_and_forward_again_keeps_them(database):
    ids = seed_before_move(migrate(database, before_move(database)))
    migrate(database, after_move(database))

    apps = migrate(database, before_move(database))
    assert not {("media", "0001_initial"), ("tiering", "0001_initial")} & applied(database)
    assert_nothing_lost(apps, ids, media="pins", tiering="pins")

    apps = migrate(database, after_move(database))
    assert_nothing_lost(apps, ids, media="media", tiering="tiering")
