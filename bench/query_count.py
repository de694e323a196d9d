"""Bench-only middleware: how many SQL queries a request ran, on every database alias.

Only requests that send ``X-Bench-Count-Queries`` are counted (the load itself runs uncounted);
the count comes back in the ``X-Bench-Queries`` response header.
"""

from __future__ import annotations

from contextlib import ExitStack

from django.db import connections


class QueryCountMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        if "HTTP_X_BENCH_COUNT_QUERIES" not in request.META:
            return self.get_response(request)
        executed: list[str] = []

        def count(execute, sql, params, many, context):
            executed.append(sql)
            return execute(sql, params, many, context)

        with ExitStack() as stack:
            for alias in connections:
                stack.enter_context(connections[alias].execute_wrapper(count))
            response = self.get_response(request)
        response["X-Bench-Queries"] = str(len(executed))
        return response
