"""Load the demo content: a few people, boards and real photographs, so a new site looks alive.

Idempotent: running it again adds only what is missing. Refuses to run in production.
"""

from __future__ import annotations

import json
import os
import secrets

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import User, UserFollow
from accounts.services import user_create
from boards.models import Board, BoardCollaborator
from boards.services import board_create
from media import services as media_services
from pins import services
from pins.models import Pin

DEMO_DIR = settings.BASE_DIR / "demo"
# The demo people's password: DEMO_PASSWORD when set, else one made once and kept in
# var/demo_password (0600), so a site started with `make run` and reachable by others has no
# published staff login. Demo accounts made with the old published password get the kept one.
OLD_PUBLISHED_PASSWORD = "pinsite-demo"  # noqa: S105 - only compared against, never set


def demo_password() -> str:
    if password := os.environ.get("DEMO_PASSWORD", ""):
        return password
    path = settings.VAR_DIR / "demo_password"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as file:
        password = secrets.token_urlsafe(12)
        file.write(password + "\n")
    return password


PACKAGE_URL = "https://packages.debian.org/bookworm/{package}"


class Command(BaseCommand):
    help = "Load demo people, boards and photographs (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--inline",
            action="store_true",
            help="Make renditions in this process instead of queueing them for the worker.",
        )
        parser.add_argument(
            "--crowd",
            type=int,
            default=0,
            metavar="N",
            help="Also have ten more demo people (crowd1..crowd10) save N pins in all, so long "
            "boards and the infinite feed can be tried. Saves share the photos' media.",
        )

    def handle(self, *args, inline: bool, crowd: int, **options):
        if settings.PRODUCTION:
            raise CommandError(
                "seed_demo creates accounts with a published password; not in production."
            )
        self.password = demo_password()
        manifest = json.loads((DEMO_DIR / "photos.json").read_text())

        people = {entry["username"]: self._user(entry) for entry in manifest["users"]}
        boards = {}
        for entry in manifest["boards"]:
            board = self._board(people[entry["owner"]], entry)
            boards[entry["name"]] = board
            for name in entry.get("collaborators", []):
                BoardCollaborator.objects.get_or_create(
                    board=board, user=people[name], defaults={"invited_by": board.owner}
                )

        pins_by_file: dict[str, Pin] = {}
        created = 0
        for entry in manifest["pins"]:
            pin, new = self._pin(people[entry["owner"]], boards[entry["board"]], entry)
            pins_by_file[entry["file"]] = pin
            created += new
            if inline:
                media_services.media_asset_process(asset_id=pin.media_id)

        for entry in manifest["saves"]:
            saver, original = people[entry["user"]], pins_by_file[entry["file"]]
            if not Pin.objects.filter(owner=saver, parent=original).exists():
                services.pin_save(user=saver, pin=original, board=boards[entry["board"]])

        for follower, followee in manifest["follows"]:
            UserFollow.objects.get_or_create(follower=people[follower], followee=people[followee])

        if crowd > 0:
            # Only what anyone may see is saved: a pin on a secret board stays there.
            public = Pin.objects.visible_to(None).filter(
                pk__in=[p.pk for p in pins_by_file.values()]
            )
            self._crowd(crowd, list(public.order_by("pk")))

        self.stdout.write(
            f"Demo content ready: {len(people)} people, {len(boards)} boards, "
            f"{len(pins_by_file)} photos ({created} new). Log in as demo / {self.password}."
        )

    def _crowd(self, count: int, originals: list[Pin]) -> None:
        """Saves by crowd1..crowd10 until there are ``count`` of them (idempotent)."""
        people = [
            self._user({"username": f"crowd{n}", "display_name": f"Crowd {n}", "bio": ""})
            for n in range(1, 11)
        ]
        have = Pin.objects.filter(owner__in=people).count()
        for number in range(have, count):
            person = people[number % len(people)]
            nth = number // len(people)  # this person's nth save
            board = self._board(
                person,
                {"name": f"Collection {nth // len(originals) + 1}", "description": "Saved finds."},
            )
            services.pin_save(user=person, pin=originals[nth % len(originals)], board=board)
        self.stdout.write(f"Crowd: {max(count, have)} saves by {len(people)} people.")

    def _user(self, entry: dict) -> User:
        user = User.objects.filter(username=entry["username"]).first()
        if user is None:
            user = user_create(
                username=entry["username"],
                email=f"{entry['username']}@example.com",
                password=self.password,
                display_name=entry["display_name"],
            )
            user.profile.bio = entry["bio"]
            user.profile.save(update_fields=["bio"])
        elif (
            user.check_password(OLD_PUBLISHED_PASSWORD) and self.password != OLD_PUBLISHED_PASSWORD
        ):
            user.set_password(self.password)
            user.save(update_fields=["password"])
        if entry["username"] == "demo" and not user.is_superuser:
            # The demo login doubles as the staff login, so the admin can be tried at once.
            user.is_staff = user.is_superuser = True
            user.save(update_fields=["is_staff", "is_superuser"])
        return user

    def _board(self, owner: User, entry: dict) -> Board:
        board = Board.objects.filter(owner=owner, name=entry["name"]).first()
        if board is None:
            board = board_create(
                owner=owner,
                name=entry["name"],
                description=entry["description"],
                is_secret=entry.get("secret", False),
            )
        return board

    def _pin(self, owner: User, board: Board, entry: dict) -> tuple[Pin, bool]:
        data = (DEMO_DIR / "photos" / entry["file"]).read_bytes()
        # Stored outside any transaction (no S3 call under a lock); the pin in one.
        asset = media_services.media_asset_create(owner=owner, data=data)
        with transaction.atomic():
            return self._pin_for(owner, board, entry, asset)

    def _pin_for(self, owner: User, board: Board, entry: dict, asset) -> tuple[Pin, bool]:
        existing = Pin.objects.filter(owner=owner, media=asset, parent=None).first()
        if existing is not None:
            return existing, False
        pin = services.pin_create(
            owner=owner,
            media_asset=asset,
            board=board,
            title=entry["title"],
            description=f"{entry['title']}. Wallpaper from Debian's {entry['package']} (GPL-2+).",
            alt_text=entry["alt"],
            source_url=PACKAGE_URL.format(package=entry["package"]),
        )
        return pin, True
