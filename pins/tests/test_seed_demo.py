import pytest
from django.core.management import call_command

from accounts.models import User
from pins.models import Pin

pytestmark = pytest.mark.django_db


def test_seed_demo_is_idempotent_and_the_crowd_never_saves_a_secret_pin():
    call_command("seed_demo", "--crowd", "45", stdout=open("/dev/null", "w"))  # noqa: SIM115
    counts = (User.objects.count(), Pin.objects.count())
    call_command("seed_demo", "--crowd", "45", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert (User.objects.count(), Pin.objects.count()) == counts

    crowd = Pin.objects.filter(owner__username__startswith="crowd")
    assert crowd.count() == 45
    assert all(pin.parent_id for pin in crowd)
    secret_originals = Pin.objects.exclude(pk__in=Pin.objects.visible_to(None)).filter(
        owner__username__in=["demo", "alice", "bob", "carol"]
    )
    assert secret_originals.exists()  # the demo has a secret board: the check below means something
    assert not crowd.filter(parent__in=secret_originals).exists()
