"""Load a file source (CSV or Parquet, a path or a glob) into the warehouse as its relation.

Files are read with pandas, renamed to the source contract, typed as the catalogue declares
(numeric features to numbers: a blank cell becomes NULL, categoricals to text), and replace
the source table only when their content changed. A CSV's `customer_id` is read as the text it
is and becomes numbers only when every id is a canonical integer (`ids_as_typed`).
"""

from __future__ import annotations

import glob
import hashlib
from pathlib import Path

import pandas as pd

from churn_assets.catalog import Catalog, SourceSpec
from churn_assets.warehouse.base import BIGINT_MAX, CANONICAL_INTEGER, ID_COLUMN, Warehouse

LOADS = "file_source_loads"
# Part of a load's content hash: files loaded under an earlier typing rule (CSV ids read as numbers,
# zeros lost) are loaded again once, under this one.
LOAD_RULES = b"csv-ids-as-typed"


class FileSourceError(ValueError):
    """The files of a source cannot be loaded; the message names the files and the problem."""


def source_files(source: SourceSpec) -> list[Path]:
    files = sorted(Path(p) for p in glob.glob(source.files))
    if not files:
        raise FileSourceError(f"source '{source.name}': no file matches {source.files}")
    return files


def read_source_files(catalog: Catalog, source: SourceSpec, files: list[Path] | None = None) -> pd.DataFrame:
    """The source's files (default: those matching now) as the table they load into, renamed and
    typed. Needs no warehouse: `churn-assets check` reads them this way."""
    files = files if files is not None else source_files(source)
    id_column = next((column for column, target in source.rename.items() if target == ID_COLUMN), ID_COLUMN)
    frame = pd.concat([_read(path, source.separator, id_column) for path in files], ignore_index=True)
    renamed = [source.rename.get(column, column) for column in frame.columns]
    twice = sorted({name for name in renamed if renamed.count(name) > 1})
    if twice:
        sources = "; ".join(
            f"{name!r} twice after `rename` ({', '.join(c for c in frame.columns if source.rename.get(c, c) == name)})"
            for name in twice
        )
        raise FileSourceError(f"source '{source.name}': {sources}; rename only one column to each name")
    frame = _typed(frame.rename(columns=source.rename), catalog, source)
    if ID_COLUMN in frame.columns and all(_is_csv(path) for path in files):
        frame[ID_COLUMN] = ids_as_typed(frame[ID_COLUMN])
    return frame


def ensure_loaded(warehouse: Warehouse, catalog: Catalog, source: SourceSpec, log=None) -> str:
    """Load the source's files into its table if they changed since the last load; returns the
    content hash of the files."""
    files = source_files(source)
    digest = hashlib.sha256(LOAD_RULES)
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    content = digest.hexdigest()
    if warehouse.columns(LOADS) is not None:
        last = warehouse.query(f"SELECT content_hash FROM {warehouse.table(LOADS)} WHERE source = ?", [source.name])
        if len(last) and last["content_hash"].iloc[0] == content:
            return content
    frame = read_source_files(catalog, source, files)
    if log:
        log(f"Loading {len(frame):,} rows from {len(files)} file(s) into {warehouse.relation_for(source)}")
    table = warehouse.relation_for(source).rpartition(".")[2]
    with warehouse.transaction() as tx:
        if tx.columns(table) is not None:
            tx.execute(f"DROP TABLE {warehouse.table(table)}")
        tx.append(table, frame)
        tx.delete(LOADS, {"source": source.name})
        tx.append(
            LOADS,
            pd.DataFrame([{"source": source.name, "content_hash": content, "files": len(files), "rows": len(frame)}]),
        )
    return content


# pandas reads these compressions by the file's last suffix.
COMPRESSED_CSV = {".gz", ".bz2", ".zip", ".xz", ".zst"}


def _is_csv(path: Path) -> bool:
    suffixes = [s.lower() for s in path.suffixes[-2:]]
    return suffixes[-1:] == [".csv"] or (len(suffixes) == 2 and suffixes[0] == ".csv" and suffixes[1] in COMPRESSED_CSV)


def _read(path: Path, separator: str = ",", id_column: str = ID_COLUMN) -> pd.DataFrame:
    """One file as pandas reads it; a CSV's `id_column` as the text written in the file."""
    is_csv = _is_csv(path)
    is_parquet = [s.lower() for s in path.suffixes[-1:]] in ([".parquet"], [".pq"])
    if not (is_csv or is_parquet):
        raise FileSourceError(
            f"{path}: expected a .csv file (optionally compressed: "
            f"{', '.join('.csv' + c for c in sorted(COMPRESSED_CSV))}) "
            "or a .parquet file"
        )
    try:
        if is_parquet:
            frame = pd.read_parquet(path)
            _refuse_duplicates(path, list(frame.columns))
            return frame
        # A converter gets the cell's text before any parsing: '0001000001' stays itself, and
        # only a blank id is missing (no 'NA' or 'null' turned into NULL).
        frame = pd.read_csv(path, sep=separator, skipinitialspace=True, converters={id_column: str})
        # pandas renames a repeated name ('tenure.1'), so the header is read again as written.
        header = pd.read_csv(path, sep=separator, skipinitialspace=True, header=None, nrows=1, dtype=str)
    except Exception as exc:  # noqa: BLE001 - the reader's message says what is wrong with the file
        raise FileSourceError(f"{path}: cannot be read ({str(exc).splitlines()[0]})") from None
    _refuse_duplicates(path, header.iloc[0].tolist())
    header = str(frame.columns[0]) if len(frame.columns) == 1 else ""
    found = next((sep for sep in ";\t|," if sep != separator and sep in header), None)
    if found:
        raise FileSourceError(
            f"{path}: read as a single column {header[:60]!r}: the fields look separated by {found!r}; "
            f"set `separator: {found!r}` on the source in the catalogue"
        )
    return frame


def _refuse_duplicates(path: Path, names: list) -> None:
    """A column named twice would be read as `name.1` and never used: refuse it, naming it. Names
    differing only in case count too (the warehouse does not tell them apart)."""
    positions: dict[str, list[int]] = {}
    for position, name in enumerate(names, start=1):
        positions.setdefault(str(name).lower(), []).append(position)
    twice = [found for found in positions.values() if len(found) > 1]
    if twice:
        named = "; ".join(
            f"{' / '.join(dict.fromkeys(repr(str(names[p - 1])) for p in found))} "
            f"(columns {', '.join(map(str, found[:-1]))} and {found[-1]})"
            for found in twice
        )
        raise FileSourceError(
            f"{path}: the header names a column more than once: {named}; give each column a name of its own"
        )


def ids_as_typed(ids: pd.Series) -> pd.Series:
    """A CSV's ids (text as written) typed the way the file means them: numbers (int64) only when every
    non-blank id is a canonical integer that fits BIGINT (no leading zero, sign, space or decimal point);
    otherwise text, kept verbatim. Blank ids become NULL either way (the data contract names them).

    One padded id ('0001000001') keeps the whole column text: read as a number it would be published
    as 1000001 and no longer match the source's id."""
    text = ids.astype(object).where(ids.notna(), None)
    text = text.where(~text.fillna("").str.fullmatch(r"\s*"), None)
    present = text.dropna()
    lengths = present.str.len()
    fits = (lengths < len(BIGINT_MAX)) | ((lengths == len(BIGINT_MAX)) & (present <= BIGINT_MAX))
    if len(present) and present.str.fullmatch(CANONICAL_INTEGER).all() and fits.all():
        numbers = pd.to_numeric(text, dtype_backend="numpy_nullable")
        return numbers.astype("int64") if len(present) == len(text) else numbers
    return text


def _typed(frame: pd.DataFrame, catalog: Catalog, source: SourceSpec) -> pd.DataFrame:
    """The contract's types: snapshot_month a date, numeric features numbers, categoricals text.

    Only blank cells of a numeric feature become NULL (how spreadsheets write "unknown"); a column
    with any other text that is not a number ("29.85 EUR") is kept as text, so the snapshot's
    data contract fails on it and names the column and the values, instead of publishing a list
    computed from NULLs."""
    if "snapshot_month" in frame.columns:
        months = pd.to_datetime(frame["snapshot_month"], errors="coerce")
        if months.isna().any():
            bad = frame.loc[months.isna(), "snapshot_month"].astype(str).unique()[:5].tolist()
            raise FileSourceError(f"source '{source.name}': snapshot_month values that are not dates, e.g. {bad}")
        frame["snapshot_month"] = months.dt.to_period("M").dt.to_timestamp().dt.date
    for model in catalog.models_of_source(source.name):
        for column in model.numeric_features:
            if column in frame.columns and not pd.api.types.is_numeric_dtype(frame[column]):
                blank_as_null = frame[column].replace(r"^\s*$", None, regex=True)
                numbers = pd.to_numeric(blank_as_null, errors="coerce")
                if numbers.isna().sum() == blank_as_null.isna().sum():
                    frame[column] = numbers
                else:
                    frame[column] = blank_as_null
        for column in model.categorical_features:
            if column in frame.columns:
                frame[column] = frame[column].astype("string").astype(object).where(frame[column].notna(), None)
    return frame
