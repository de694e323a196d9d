import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import User, UserFollow
from accounts.tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_usernames_are_unique_regardless_of_case_even_past_validation():
    make_user("Alice")
    with pytest.raises(ValidationError) as caught:
        make_user("alice")
    assert "username" in str(caught.value) or "already exists" in str(caught.value)
    bob = make_user("bob")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=bob.pk).update(username="ALICE")


def test_user_create_makes_a_profile():
    person = make_user("carol", display_name="Carol L")
    assert person.profile.display_name == "Carol L"
    assert person.get_absolute_url() == "/people/carol/"


def test_profile_website_refuses_javascript_links_in_the_database():
    person = make_user()
    with pytest.raises(IntegrityError), transaction.atomic():
        type(person.profile).objects.filter(pk=person.pk).update(website="javascript:alert(1)")


def test_nobody_follows_themselves_or_twice():
    alice, bob = make_user(), make_user()
    UserFollow.objects.create(follower=alice, followee=bob)
    with pytest.raises(IntegrityError), transaction.atomic():
        UserFollow.objects.create(follower=alice, followee=bob)
    with pytest.raises(IntegrityError), transaction.atomic():
        UserFollow.objects.create(follower=alice, followee=alice)
