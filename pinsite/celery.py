"""The Celery application. Configuration comes from Django settings (``CELERY_*``).

Sending a task goes through a circuit breaker (``pinsite.breaker``, named "task broker"): a
broker that refused or timed out is not asked again for ``BREAKER_OPEN_SECONDS``, and a task
sent meanwhile fails at once with ``BrokerUnavailable`` (a kombu ``OperationalError``), which
the callers already handle (the row stays pending and a sweeper queues it again). The broker's
socket timeouts and the bounded publish retries (settings) bound what the one call that finds
out costs.
"""

import os

from celery import Celery, Task
from celery.signals import worker_init
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from pinsite.breaker import breaker
from pinsite.db.router import connect_task_signals
from pinsite.db.timeouts import use_statement_timeout

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pinsite.settings")

BROKER_FAULTS = (OperationalError, OSError, RedisError)


class BrokerUnavailable(OperationalError):
    """The broker failed moments ago; the task was not sent."""


class BreakerTask(Task):
    def apply_async(self, *args, **kwargs):
        if self.app.conf.task_always_eager:
            return super().apply_async(*args, **kwargs)  # runs here: no broker involved
        gate = breaker("task broker")
        if not gate.allow():
            raise BrokerUnavailable(f"the task broker failed moments ago; {self.name} not sent")
        try:
            result = super().apply_async(*args, **kwargs)
        except BROKER_FAULTS as error:
            gate.failed(error)
            raise
        gate.succeeded()
        return result


app = Celery("pinsite", task_cls=BreakerTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Tasks read the writer unless declared @shared_task(replica_reads=True): see pinsite/db/router.py.
connect_task_signals()


@worker_init.connect(weak=False, dispatch_uid="pinsite-task-statement-timeout")
def _task_statement_timeout(**_kwargs) -> None:
    # Before the pool forks: every worker connection gets the tasks' (longer) statement timeout.
    use_statement_timeout("task")
