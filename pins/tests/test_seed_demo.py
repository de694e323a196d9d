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


def test_the_demo_password_is_made_once_in_var_and_never_the_published_one(
    tmp_path, settings, monkeypatch
):
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    kept = tmp_path / "demo_password"
    assert kept.stat().st_mode & 0o777 == 0o600
    password = kept.read_text().strip()
    assert len(password) >= 16
    demo = User.objects.get(username="demo")
    assert demo.is_staff and demo.check_password(password)
    assert not demo.check_password("pinsite-demo")

    # A site seeded before with the published password gets the kept one on the next run.
    demo.set_password("pinsite-demo")
    demo.save()
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert kept.read_text().strip() == password
    demo.refresh_from_db()
    assert demo.check_password(password)

    monkeypatch.setenv("DEMO_PASSWORD", "chosen-by-the-operator")
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    demo.refresh_from_db()
    assert demo.check_password(password)  # an existing account keeps its password
    assert User.objects.get(username="alice").check_password(password)
