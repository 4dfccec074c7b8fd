"""How the catalogue says what is wrong: one line naming the file, the model and the key."""

from __future__ import annotations

import difflib


class CatalogError(ValueError):
    """The catalogue is malformed; the message names the file, the model and the key."""


class Problem(ValueError):
    """A refusal by a cross-field validator about a key other than the one it runs on: `at` is the
    key's path from that validator's mapping, e.g. ("models", "churn", "label") from the top level."""

    def __init__(self, at: tuple, message: str):
        super().__init__(message)
        self.at = at


def nearest(name: str, candidates) -> str | None:
    """The candidate closest to a mistyped name, if any is close."""
    matches = difflib.get_close_matches(str(name), list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def suggestion(name: str, candidates, listed_as: str) -> str:
    """ "did you mean 'x'?" for a close candidate, else every candidate (`listed_as: a, b`)."""
    guess = nearest(name, candidates)
    return f"did you mean '{guess}'?" if guess else f"{listed_as}: {', '.join(sorted(map(str, candidates)))}"
