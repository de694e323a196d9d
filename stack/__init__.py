"""Real local services for pinsite: PostgreSQL 15 with streaming replicas, Redis, S3 (moto).

Used by `make stack` (`python -m stack up`) and by the test harness. Standard library only;
never imports Django.
"""

from stack.errors import StackError
from stack.stack import SERVICES, Stack

__all__ = ["SERVICES", "Stack", "StackError"]
