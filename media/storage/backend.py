"""The media bucket as a Django storage: private objects, URLs signed by pinsite's signer.

Every S3 request pinsite makes goes through the client built here (``MediaStorage.connection``),
so this is where each request can be watched: the functions in ``call_checks`` run before every
S3 API call (not before presigning, which makes no request). The first is a tripwire for a call
made inside a database transaction, whose locks would then be held for as long as S3 takes:
setting ``S3_IN_TRANSACTION`` says whether it logs an error (default), refuses the call (the test
suite's workers) or does nothing. The test suite replaces it with a stricter check per test.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.db import connections
from storages.backends.s3 import S3Storage

logger = logging.getLogger(__name__)

# The storage class originals are written with (``media.storage.put_bytes`` sets it for one
# write; None: the bucket's default, STANDARD). INTELLIGENT_TIERING when S3 decides the tiers.
original_storage_class: ContextVar[str | None] = ContextVar("original_storage_class", default=None)


class S3InTransaction(RuntimeError):
    """An S3 call was made inside a database transaction (and S3_IN_TRANSACTION is "raise")."""


def transaction_tripwire(operation: str) -> None:
    """Log (or refuse, per S3_IN_TRANSACTION) an S3 call made inside a database transaction."""
    mode = settings.S3_IN_TRANSACTION
    if mode == "off":
        return
    inside = [c.alias for c in connections.all(initialized_only=True) if c.in_atomic_block]
    if not inside:
        return
    message = f"S3 {operation} inside a transaction on database {', '.join(inside)}"
    if mode == "raise":
        raise S3InTransaction(message)
    logger.error(message, stack_info=True)


# Called with the operation's name (e.g. "PutObject") before each S3 request; may raise.
call_checks: list[Callable[[str], None]] = [transaction_tripwire]


def _before_call(*, model: Any, **_kwargs: Any) -> None:
    for check in list(call_checks):
        check(model.name)


class MediaStorage(S3Storage):
    """django-storages' S3 backend with pinsite's object headers.

    Originals are downloads (``Content-Disposition: attachment``), so a file that fooled the
    format check can never render as a page on the bucket's origin; renditions show inline and
    may be cached for long, since a rendition key always holds the same derivative.
    """

    @property
    def connection(self):
        """The thread's boto3 resource, its client hooked to ``call_checks`` once."""
        resource = super().connection
        client = resource.meta.client
        if not getattr(client, "_pinsite_checked", False):
            client.meta.events.register("before-call.s3", _before_call)
            client._pinsite_checked = True
        return resource

    def get_object_parameters(self, name: str) -> dict:
        params = super().get_object_parameters(name)
        if name.startswith("originals/"):
            params.setdefault("ContentDisposition", "attachment")
            params.setdefault("CacheControl", "private, max-age=86400")
            storage_class = original_storage_class.get()
            if storage_class:
                params.setdefault("StorageClass", storage_class)
        elif name.startswith("renditions/"):
            params.setdefault("ContentDisposition", "inline")
            params.setdefault("CacheControl", "private, max-age=31536000, immutable")
        return params
