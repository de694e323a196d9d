"""Database routing for one writer (``default``) and up to 15 readers (``replica_N``).

Policy today, in plain words:

* Every query, read or write, goes to the writer. Readers are configured from
  ``DATABASE_REPLICA_URLS`` and receive the test database by streaming, but no read is sent to them
  yet, so no page can show data older than the user's own last write.
* Migrations run on the writer only; a reader is a hot standby and refuses writes anyway.
* Objects from any of these aliases may be related to each other: they hold the same data.

Spreading reads over healthy readers, read-your-writes pinning and surviving a reader that is down,
hung or behind are a later, separate change to this module; the aliases and settings are already
shaped for it.
"""

from __future__ import annotations

from django.conf import settings

WRITER = "default"


class PrimaryReplicaRouter:
    def db_for_read(self, model, **hints) -> str:
        return WRITER

    def db_for_write(self, model, **hints) -> str:
        return WRITER

    def allow_relation(self, obj1, obj2, **hints) -> bool | None:
        aliases = {WRITER, *settings.REPLICA_ALIASES}
        if obj1._state.db in aliases and obj2._state.db in aliases:
            return True
        return None

    def allow_migrate(self, db: str, app_label: str, model_name=None, **hints) -> bool:
        return db == WRITER
