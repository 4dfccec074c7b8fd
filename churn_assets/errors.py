"""The project's settings error, and the one place that reads error chains.

Python exceptions chain through `__cause__`/`__context__`; Dagster's serialised step errors
through `cause`. Both are walked here, so the retry policy, the DuckDB lock wait and the run
summaries agree on what "the error" of a failure is.
"""

from __future__ import annotations

from collections.abc import Iterator


class SettingsError(ValueError):
    """CHURN_ENV or a setting it reads is wrong; the message names the variable and what to set."""


def exception_chain(exc: BaseException | None) -> Iterator[BaseException]:
    """`exc` and every exception it was raised from or during, outermost first."""
    while exc is not None:
        yield exc
        exc = exc.__cause__ or exc.__context__


def error_line(error) -> str:
    """The first line of a Dagster step's innermost error (a SerializableErrorInfo), without Python's
    class path (Dagster wraps the user-facing message in step errors, as `module.Class: message`)."""
    while error is not None and error.cause is not None:
        error = error.cause
    if error is None:
        return "failed"
    line = (error.message.strip().splitlines() or ["failed"])[0]
    prefix = f"{error.cls_name}: " if error.cls_name else None
    if prefix and prefix in line and line.index(prefix) + len(prefix) < len(line):
        head, _, rest = line.partition(prefix)
        if not head or head.endswith("."):
            line = rest
    return line
