"""Which cached pages a change to a pin or a placement retires (``pinsite.page_cache`` stamps).

Connected in ``PinsConfig.ready()``. A placement (``BoardPin``) belongs to boards, but what it
changes is where pins show, so pins stamps for it.
"""

from __future__ import annotations

from django.db.models import QuerySet

from boards.models import Board, BoardPin
from pins.models import Pin
from pinsite import page_cache

_PIN_GATE = ("moderation_state", "owner_id")  # what the visibility gate reads from the pin itself
_PLACEMENT = ("board_id", "pin_id")


def _before_pin(sender, instance, using=None, update_fields=None, **kwargs) -> None:
    page_cache.remember_old_values(sender, instance, _PIN_GATE, using, update_fields)


def _on_pin(sender, instance, created=False, **kwargs) -> None:
    if not created and page_cache.changed(instance, _PIN_GATE):
        page_cache.visibility_changed()  # hidden, shown, removed, or someone else's now
        return
    page_cache.pins_changed(owner_ids=[instance.owner_id])  # placements stamp their boards


def _on_pin_deleted(sender, instance, **kwargs) -> None:
    # Its placements go first and stamp their boards.
    page_cache.pins_changed(owner_ids=[instance.owner_id])


def _before_placement(sender, instance, using=None, update_fields=None, **kwargs) -> None:
    page_cache.remember_old_values(sender, instance, _PLACEMENT, using, update_fields)


def _pin_owners(pin_ids, using) -> list[int]:
    return list(
        Pin.objects.using(using).filter(pk__in=set(pin_ids)).values_list("owner_id", flat=True)
    )


def _on_placement(sender, instance, created=False, using=None, **kwargs) -> None:
    old = page_cache.old_values(instance)
    if not created and old is not None and not page_cache.changed(instance, _PLACEMENT):
        page_cache.board_changed(board_id=instance.board_id)  # moved within its board
        return
    boards, pins = {instance.board_id}, {instance.pin_id}
    if old is not None:
        boards.add(old["board_id"])
        pins.add(old["pin_id"])
    # Placed on a public board, a pin may become visible: on that board, in its owner's profile
    # and everywhere the stream reaches.
    if pins == {instance.pin_id} and sender.pin.is_cached(instance):
        owners = [instance.pin.owner_id]
    else:
        owners = _pin_owners(pins, using)
    page_cache.pins_changed(owner_ids=owners, board_ids=sorted(boards))


def _on_placement_deleted(sender, instance, using=None, origin=None, **kwargs) -> None:
    # Deleted with its pin (whose own stamp names the owner) or its board (which stamps
    # visibility): no need to look the owner up, once per placement.
    if (origin.model if isinstance(origin, QuerySet) else type(origin)) in (Pin, Board):
        page_cache.pins_changed(board_ids=[instance.board_id])
        return
    owners = (
        [instance.pin.owner_id]
        if sender.pin.is_cached(instance)
        else _pin_owners([instance.pin_id], using)
    )
    page_cache.pins_changed(owner_ids=owners, board_ids=[instance.board_id])


def connect() -> None:
    page_cache.connect(Pin, before=_before_pin, saved=_on_pin, deleted=_on_pin_deleted)
    page_cache.connect(
        BoardPin,
        before=_before_placement,
        saved=_on_placement,
        deleted=_on_placement_deleted,
    )
