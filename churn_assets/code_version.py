"""The model's code identity: which code built a model version.

A version is reused when its inputs are unchanged (the registry's fingerprint). The code that
encodes features, trains, evaluates and scores is one of those inputs: a change to it must train
a new version, while a change to a comment or to layout must not. So the identity is a hash of
those modules' syntax trees (comments and formatting are not in the tree), plus the XGBoost
version (the same code and data give another artifact under another XGBoost).
"""

from __future__ import annotations

import ast
import hashlib
from functools import cache
from importlib import metadata
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
# Modules whose code decides what a trained model is and how it scores: feature encoding, training
# and scoring; the training run (holdout split, refit); the training frame's read and row order.
MODEL_CODE = ("modeling.py", "model_versions.py", "warehouse/snapshots.py")


def code_hash(sources: dict[str, str]) -> str:
    """A hash of Python sources (name -> text) that ignores comments and formatting."""
    digest = hashlib.sha256()
    for name in sorted(sources):
        digest.update(name.encode())
        digest.update(ast.dump(ast.parse(sources[name]), include_attributes=False).encode())
    return digest.hexdigest()[:16]


@cache
def model_code_version() -> str:
    """`<hash of MODEL_CODE>-xgb<version>`: the asset's code_version and part of every fingerprint."""
    sources = {name: (PACKAGE / name).read_text() for name in MODEL_CODE}
    return f"{code_hash(sources)}-xgb{metadata.version('xgboost')}"
