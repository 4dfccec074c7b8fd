"""Transient warehouse errors are retried with backoff (a Dagster RetryPolicy); permanent ones
fail the step at once with the database's own message."""

import contextlib
import functools
import inspect

from dagster import Backoff, Failure, Jitter, RetryPolicy

from churn_assets.errors import exception_chain

# Three more tries after 2, 4 and 8 seconds (+-jitter): enough to ride out a dropped connection
# or a briefly locked DuckDB file, short enough to fail a broken run quickly.
WAREHOUSE_RETRY = RetryPolicy(max_retries=3, delay=2, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS)

# Errors that say "try again": lost or refused connections, locks, timeouts. Matched by class
# name so that no engine library has to be imported to classify its errors.
TRANSIENT_ERRORS = {
    "IOException",  # DuckDB: file locked by another process
    "ConnectionException",  # DuckDB
    "OperationalError",  # Snowflake connector: network, session expired
    "InterfaceError",
    "TransientWarehouseError",
    "ConnectionError",
    "ConnectionResetError",
    "ConnectionRefusedError",
    "TimeoutError",
}


def is_transient(exc: BaseException) -> bool:
    return any(type(e).__name__ in TRANSIENT_ERRORS for e in exception_chain(exc))


def fail_fast_unless_transient(fn):
    """Let transient errors reach the RetryPolicy; turn any other error into a Failure that is
    not retried (retrying a missing table or a bad query only delays the alert). Works for asset
    bodies that return and for those that yield (the gated assets)."""

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def guarded_generator(context, *args, **kwargs):
            with _classified(context):
                yield from fn(context, *args, **kwargs)

        return guarded_generator

    @functools.wraps(fn)
    def guarded(context, *args, **kwargs):
        with _classified(context):
            return fn(context, *args, **kwargs)

    return guarded


@contextlib.contextmanager
def _classified(context):
    try:
        yield
    except Failure as failure:
        failure.allow_retries = False  # our own failures are decisions, not accidents
        raise
    except Exception as exc:
        if is_transient(exc):
            context.log.warning(f"Transient warehouse error, will retry: {type(exc).__name__}: {exc}")
            raise
        raise Failure(
            description=f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}",
            allow_retries=False,
        ) from exc
