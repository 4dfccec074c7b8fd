"""Reading a catalogue file: strict YAML, the schema, and every error as one line naming the file,
the model and the key."""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml
from pydantic import ValidationError

from churn_assets.catalog.errors import CatalogError, Problem, suggestion
from churn_assets.catalog.params import XGBoostParams
from churn_assets.catalog.schema import CatalogueFile, ExclusionEntry, GatesEntry, ModelEntry, Section, SourceEntry
from churn_assets.catalog.specs import Catalog

DEFAULT_CATALOG = Path(__file__).parent.parent / "models.yaml"
CATALOG_ENV_VAR = "CHURN_MODELS"


def catalog_path() -> Path:
    """The catalogue in force: ``$CHURN_MODELS`` if set, else the packaged ``models.yaml``."""
    return Path(os.environ.get(CATALOG_ENV_VAR) or DEFAULT_CATALOG)


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Read and validate a catalogue file; raise CatalogError naming file, model and key."""
    path = Path(path) if path else catalog_path()
    raw = _read_yaml(path)
    try:
        entry = CatalogueFile.model_validate(raw, context={"path": path})
    except ValidationError as exc:
        raise CatalogError(f"{path}: {_one_line(exc)}") from None
    return entry.to_catalog(path)


# -- YAML ------------------------------------------------------------------------------------


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """YAML that refuses a key given twice (plain YAML keeps the last one silently: a second
    `churn:` entry would replace the first model without a word), reads booleans as YAML 1.2 does
    (only true/false: `{Yes: 1, No: 0}` keeps its text keys instead of becoming {True: 1, False: 0})
    and accepts merge keys (`<<: *defaults`). Parsed by libyaml when PyYAML has it: the pure-Python
    parser cost 0.2-0.3 s of each load of a 30-model catalogue."""


_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_MERGE_TAG = "tag:yaml.org,2002:merge"


def _mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False):
    seen = set()
    for key_node, _ in node.value:
        if key_node.tag == _MERGE_TAG:
            continue  # merged keys may be overridden by the mapping's own: that is what merging is for
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (a model or key given twice)", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def _read_yaml(path: Path):
    try:
        return yaml.load(path.read_text(), Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except FileNotFoundError as exc:
        raise CatalogError(f"{path}: catalogue file not found") from exc
    except IsADirectoryError as exc:
        raise CatalogError(f"{path}: is a folder; point {CATALOG_ENV_VAR} at the catalogue file") from exc
    except (PermissionError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{path}: cannot be read ({exc.__class__.__name__}: {exc})") from exc
    except yaml.YAMLError as exc:
        # One line: where and what (PyYAML's own message spans several lines with a code excerpt).
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise CatalogError(f"{path}: not valid YAML{where}: {problem}") from exc


# -- Errors ----------------------------------------------------------------------------------


def _one_line(error: ValidationError) -> str:
    """The first error pydantic found, as "<where>, key '<key>': <what>". An unknown key comes
    first: a mistyped key often leaves a required one missing too, and the typo is the news."""
    errors = error.errors()
    unknown = ("extra_forbidden", "invalid_key")  # invalid_key: a key that is not text, e.g. `1:`
    first = next((e for e in errors if e["type"] in unknown), errors[0])
    problem = (first.get("ctx") or {}).get("error")
    where, section, key = _place(first["loc"] + (problem.at if isinstance(problem, Problem) else ()))
    if first["type"] in unknown:
        message = (
            f"unknown key; {suggestion(key, section.model_fields, 'valid keys')} (docs/catalogue.md lists every key)"
        )
    elif first["type"] == "missing":
        message = "is required"
    elif isinstance(problem, Exception):
        message = str(problem)  # the catalogue's own words (values.py, schema.py)
    else:
        message = first["msg"]  # pydantic's words, for a value none of our checks describes
    return f"{where}, key '{key}': {message}" if key else f"{where}: {message}"


def _place(loc: tuple) -> tuple[str, type[Section], str | None]:
    """Where an error is, in the catalogue's words: ("model 'churn', gates", its section, "min_auc").
    Deeper parts (a list's index, a column of a mapping) are left to the message."""
    where, section, rest = "top level", CatalogueFile, list(loc)
    if len(rest) >= 2 and rest[0] in ("sources", "models"):
        kind, section = ("source", SourceEntry) if rest[0] == "sources" else ("model", ModelEntry)
        where, rest = f"{kind} '{rest[1]}'", rest[2:]
    if section is ModelEntry and len(rest) >= 2:
        if rest[0] == "gates":
            where, section, rest = f"{where}, gates", GatesEntry, rest[1:]
        elif rest[0] == "exclusions" and isinstance(rest[1], int):
            where, section, rest = f"{where}, exclusion {rest[1] + 1}", ExclusionEntry, rest[2:]
        elif rest[0] == "params":
            return where, XGBoostParams, f"params.{rest[1]}"
    if not rest:
        return where, section, None
    return where, section, "name" if rest[0] == "[key]" else str(rest[0])
