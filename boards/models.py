from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse

from pinsite.search import SEARCH_CONFIG, OnPostgreSQL

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractUser

# Gap left between neighbouring positions, so a drag-and-drop move usually writes one row.
POSITION_GAP = 1024


class BoardQuerySet(models.QuerySet):
    def visible_to(self, user) -> BoardQuerySet:
        """Public boards, plus the secret boards ``user`` owns or collaborates on."""
        condition = Q(is_secret=False)
        if user is not None and user.is_authenticated:
            condition |= Q(owner=user) | Q(collaborators=user)
        # A collaborator join can repeat a board; the subquery keeps one row per board.
        return self.filter(pk__in=self.model.objects.filter(condition).values("pk"))


class Board(models.Model):
    """A named collection of pins. Secret boards and everything on them are hidden from others."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="boards"
    )
    name = models.CharField(max_length=100)
    slug = models.SlugField(
        max_length=120, allow_unicode=True, help_text="Unique per owner; in URLs."
    )
    description = models.TextField(max_length=500, blank=True)
    is_secret = models.BooleanField(
        default=False,
        help_text="Only the owner and collaborators can see a secret board and its pins.",
    )
    cover = models.ForeignKey(
        "pins.Pin",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The pin shown as the board's cover; the newest pin when empty.",
    )
    # People (AUTH_USER_MODEL): boards.models imports no other app.
    collaborators: models.ManyToManyField[AbstractUser, BoardCollaborator] = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="BoardCollaborator",
        through_fields=("board", "user"),
        related_name="group_boards",
        blank=True,
    )
    # Pins, typed loosely: boards may not import pins (see the import contracts).
    pins: models.ManyToManyField[Any, BoardPin] = models.ManyToManyField(
        "pins.Pin",
        through="BoardPin",
        through_fields=("board", "pin"),
        related_name="boards",
        blank=True,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Name and description as an English tsvector, kept by PostgreSQL and GIN-indexed (migration
    # 0002): search finds boards by name without re-parsing every board's text.
    search_document = models.GeneratedField(
        expression=OnPostgreSQL(
            SearchVector("name", "description", config=SEARCH_CONFIG),
            output_field=SearchVectorField(),
        ),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    objects = BoardQuerySet.as_manager()

    # Annotated by ``boards.selectors`` on the boards it returns, not columns.
    viewer_follows: bool
    viewer_is_member: bool

    class Meta:
        constraints = [
            # Two boards called "Recipes" and "recipes" would be indistinguishable in a save menu.
            models.UniqueConstraint(
                "owner", Lower("name"), name="boards_board_owner_name_ci_unique"
            ),
            models.UniqueConstraint(
                fields=["owner", "slug"], name="boards_board_owner_slug_unique"
            ),
            models.CheckConstraint(condition=~Q(name=""), name="boards_board_name_not_empty"),
            models.CheckConstraint(condition=~Q(slug=""), name="boards_board_slug_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("boards:detail", kwargs={"username": self.owner.username, "slug": self.slug})


class BoardCollaborator(models.Model):
    """A person the owner invited to add pins to a group board."""

    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="board_memberships"
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["board", "user"], name="boards_collaborator_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} on {self.board}"


class BoardPin(models.Model):
    """A pin's place on a board: its order, and who put it there (a collaborator, on group boards)."""

    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="placements")
    pin = models.ForeignKey("pins.Pin", on_delete=models.CASCADE, related_name="placements")
    position = models.BigIntegerField(
        help_text=f"Ascending order on the board; neighbours are {POSITION_GAP} apart when fresh."
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["board", "pin"], name="boards_boardpin_unique"),
        ]
        indexes = [
            models.Index(fields=["board", "position", "id"], name="boards_boardpin_order"),
        ]

    def __str__(self) -> str:
        return f"pin {self.pin_id} on board {self.board_id}"


class BoardFollow(models.Model):
    """``follower`` sees new pins on ``board`` in their home feed."""

    follower = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="following_boards"
    )
    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="followers")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["follower", "board"], name="boards_boardfollow_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.follower} follows {self.board}"
