"""The suite-wide guard (root conftest, ``s3_outside_transactions``) catches an S3 request made
inside a database transaction, and lets through the ones made outside, presigning included."""

from __future__ import annotations

import pytest
from django.db import transaction

from conftest import S3InTransaction
from media import storage


@pytest.mark.django_db
def test_an_s3_call_inside_atomic_fails_the_test(s3, s3_outside_transactions):
    with transaction.atomic(), pytest.raises(S3InTransaction, match="HeadObject"):
        storage.head(key="originals/any.jpg")
    assert s3_outside_transactions == ["S3 HeadObject inside a transaction on database 'default'"]
    s3_outside_transactions.clear()  # caught on purpose: the test itself must not fail


@pytest.mark.django_db(transaction=True)
def test_an_s3_call_under_a_row_lock_in_a_transactional_test_fails_too(s3, s3_outside_transactions):
    from accounts.tests.factories import make_user

    user = make_user()
    with transaction.atomic():
        type(user).objects.select_for_update().get(pk=user.pk)
        with pytest.raises(S3InTransaction, match="Object inside a transaction"):
            storage.put_bytes(key="renditions/xx/guard/grid-1.jpeg", data=b"x", fmt="jpeg")
    s3_outside_transactions.clear()


@pytest.mark.django_db
def test_calls_outside_a_transaction_and_presigning_pass(s3, s3_outside_transactions):
    assert storage.head(key="originals/none.jpg") is None  # at the test's own depth
    with transaction.atomic():
        storage.presigned_post(key="uploads/1/abc", max_bytes=10, expires=60)
        storage.url_for(key="originals/none.jpg")
    assert s3_outside_transactions == []


@pytest.mark.django_db
def test_outside_the_suite_the_tripwire_logs_or_refuses_a_call_inside_a_transaction(
    settings, caplog
):
    from media.storage import backend

    with transaction.atomic():
        settings.S3_IN_TRANSACTION = "raise"
        with pytest.raises(backend.S3InTransaction, match="PutObject inside a transaction"):
            backend.transaction_tripwire("PutObject")
        settings.S3_IN_TRANSACTION = "log"
        backend.transaction_tripwire("PutObject")
        assert "S3 PutObject inside a transaction on database default" in caplog.text
        settings.S3_IN_TRANSACTION = "off"
        backend.transaction_tripwire("PutObject")
    assert caplog.text.count("inside a transaction") == 1
