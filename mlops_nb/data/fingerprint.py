"""The content identity of a DataFrame, independent of any file layout.

A frame's digest is the SHA-256 of its schema (column names, exact dtypes, index) and of one
8-byte hash per row. Row hashes combine per-column value hashes (pandas' vectorised
``hash_array``: SipHash-2-4 for strings and objects, a 64-bit mix for numbers); text and
categorical columns are factorised first so each distinct value is hashed once, and the
factorisation is kept for the profile. The row hashes are stored with each version so diffs
compare versions without reloading their data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from .parallel import BLOCK, for_rows, ordered_map

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    import pandas as pd

# Names the row-hash scheme; versions hashed with another scheme are re-hashed before a diff.
ROW_HASH = "mlops-rowhash/1"
_NULL_HASH = 0x9E3779B97F4A7C15
_MIXED = {"mixed", "mixed-integer", "mixed-integer-float"}
_MIXING = (  # SplitMix64's finalizer: (shift, then multiply by)
    (30, 0xBF58476D1CE4E5B9),
    (27, 0x94D049BB133111EB),
    (31, None),
)


@dataclass
class Factorized:
    """Codes (-1 = null) and distinct values of a column, shared by hashing and profiling."""

    codes: np.ndarray
    uniques: Any
    counts: np.ndarray = field(default=None)  # type: ignore[assignment]

    def value_counts(self) -> np.ndarray:
        import numpy as np

        if self.counts is None:
            valid = self.codes[self.codes >= 0]
            self.counts = np.bincount(valid, minlength=len(self.uniques))
        return self.counts


def validate_frame(df: pd.DataFrame) -> None:
    """Refuse frames that cannot be stored and loaded back exactly, naming the fix."""
    import pandas as pd

    columns = list(df.columns)
    if isinstance(df.columns, pd.MultiIndex) or not all(isinstance(c, str) for c in columns):
        bad = next(c for c in columns if not isinstance(c, str))
        raise UsageError(
            f"column names must be strings, found {bad!r} ({type(bad).__name__}); rename them, "
            "e.g. df.columns = [str(c) for c in df.columns]"
        )
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise UsageError(
            f"duplicate column names {duplicated}; make them unique before snapshotting "
            "(e.g. df = df.loc[:, ~df.columns.duplicated()])"
        )
    if not columns:
        raise UsageError("the DataFrame has no columns; there is nothing to snapshot")
    for name in columns:
        series = df[name]
        if pd.api.types.is_object_dtype(series.dtype):
            inferred = pd.api.types.infer_dtype(series, skipna=True)
            if inferred in _MIXED:
                kinds = sorted({type(v).__name__ for v in series.dropna().head(100_000)})
                raise UsageError(
                    f"column {name!r} mixes value types ({', '.join(kinds)}); convert it to one "
                    f"type first, e.g. df[{name!r}] = df[{name!r}].astype(str)"
                )


def dtype_spec(dtype: Any) -> str:
    """A string that ``pandas.api.types.pandas_dtype`` turns back into the same dtype."""
    import pandas as pd

    if isinstance(dtype, pd.StringDtype) and dtype.na_value is pd.NA:
        return f"string[{dtype.storage}]"
    return str(dtype)


def _json_values(index: pd.Index) -> list[Any]:
    if index.dtype.kind in "mM":
        return [str(v) for v in index]
    return [v.item() if hasattr(v, "item") else v for v in index.tolist()]


def column_schema(name: str, series: pd.Series) -> dict[str, Any]:
    import pandas as pd

    entry: dict[str, Any] = {"name": name, "dtype": dtype_spec(series.dtype)}
    if isinstance(series.dtype, pd.CategoricalDtype):
        categories = series.dtype.categories
        entry.update(
            ordered=bool(series.dtype.ordered),
            categories_dtype=dtype_spec(categories.dtype),
            categories=_json_values(categories),
        )
    return entry


def index_schema(index: pd.Index) -> dict[str, Any]:
    import pandas as pd

    names = [None if n is None else str(n) for n in index.names]
    if isinstance(index, pd.RangeIndex):
        return {
            "kind": "range",
            "start": index.start,
            "stop": index.stop,
            "step": index.step,
            "name": names[0],
        }
    return {
        "kind": "values",
        "dtypes": [dtype_spec(index.get_level_values(i).dtype) for i in range(index.nlevels)],
        "names": names,
    }


def frame_schema(df: pd.DataFrame) -> dict[str, Any]:
    """Columns with exact dtypes (and categories), the index, and the row-hash scheme."""
    return {
        "columns": [column_schema(name, df[name]) for name in df.columns],
        "index": index_schema(df.index),
        "row_hash": ROW_HASH,
    }


def _is_factorizable(series: pd.Series) -> bool:
    import pandas as pd

    dtype = series.dtype
    return (
        isinstance(dtype, (pd.CategoricalDtype, pd.StringDtype))
        or pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_bool_dtype(dtype)
        or not (pd.api.types.is_numeric_dtype(dtype) or dtype.kind in "mM")
    )


def factorize(series: pd.Series) -> Factorized:
    """Codes and distinct values (nulls get code -1); categories keep unused values."""
    import numpy as np
    import pandas as pd

    if isinstance(series.dtype, pd.CategoricalDtype):
        return Factorized(np.asarray(series.cat.codes, dtype=np.int64), series.cat.categories)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return Factorized(np.asarray(codes, dtype=np.int64), uniques)


def _hash_values(values: Any) -> np.ndarray:
    import numpy as np
    from pandas.core.util.hashing import hash_array

    array = np.asarray(values)
    if array.dtype.kind in "iuf" and array.dtype.itemsize <= 8:
        return hash_numbers(array)
    if array.dtype.kind in "OUSb" or array.dtype == object:
        array = np.asarray(values, dtype=object)
        return hash_array(np.array([str(v) for v in array], dtype=object), categorize=False)
    return hash_array(array, categorize=False)


def hash_numbers(values: np.ndarray) -> np.ndarray:
    """One uint64 per number: its bits (zero-extended; -0.0 as 0.0 and one NaN for all) mixed
    by SplitMix64's finalizer. The same values as pandas' ``hash_array`` gives from 3.0 on,
    computed here so the digest does not depend on the pandas version, in cache-sized blocks
    (one pass over memory, no temporary the size of the column)."""
    import numpy as np

    bits = f"u{values.dtype.itemsize}"
    out = values.view(bits).astype(np.uint64)
    floats = values.dtype.kind == "f"
    if floats:
        nan_bits = np.array(np.nan, dtype=values.dtype).view(bits)
        negative_zero = np.array(-0.0, dtype=values.dtype).view(bits)
    scratch = np.empty(min(len(out), BLOCK), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for start in range(0, len(out), BLOCK):
            block = out[start : start + BLOCK]
            if floats:
                block[np.isnan(values[start : start + BLOCK])] = nan_bits
                block[block == negative_zero] = 0
            spare = scratch[: len(block)]
            for shift, multiplier in _MIXING:
                np.right_shift(block, shift, out=spare)
                block ^= spare
                if multiplier is not None:
                    block *= multiplier
    return out


def numbers(series: pd.Series) -> np.ndarray:
    """The values of a numeric or date/time column as a plain NumPy array (nulls arbitrary)."""
    import pandas as pd

    array = series.array
    if hasattr(array, "asi8"):  # datetime (with or without zone) and timedelta
        return array.asi8
    if isinstance(series.dtype, pd.api.extensions.ExtensionDtype):
        numpy_dtype = getattr(series.dtype, "numpy_dtype", None)
        if numpy_dtype is None or numpy_dtype.kind not in "biuf":
            return series.astype(str).to_numpy(dtype=object)
        return series.to_numpy(dtype=numpy_dtype, na_value=0)
    return series.to_numpy()


ColumnHasher = Callable[[int, int], "np.ndarray"]


def column_hasher(
    series: pd.Series, factorized: dict[str, Factorized] | None = None, name: str | None = None
) -> ColumnHasher:
    """``hasher(start, stop)``: one uint64 per value of that slice of the column. Equal values
    (of one dtype) hash equal; nulls hash to a constant. Text and categories are factorised
    here, once (kept in ``factorized[name]`` for the profile), and each distinct value hashed
    once; numbers are hashed slice by slice."""
    import numpy as np

    if _is_factorizable(series):
        fact = factorize(series)
        if factorized is not None and name is not None:
            factorized[name] = fact
        # code -1 (null) picks the last entry
        table = np.append(_hash_values(fact.uniques), np.uint64(_NULL_HASH))
        return lambda start, stop: table[fact.codes[start:stop]]
    values = numbers(series)
    mask = series.isna().to_numpy()
    if not mask.any():
        return lambda start, stop: _hash_values(values[start:stop])

    def hashes(start: int, stop: int) -> np.ndarray:
        out = _hash_values(values[start:stop])
        out[mask[start:stop]] = _NULL_HASH
        return out

    return hashes


def column_hashes(series: pd.Series) -> np.ndarray:
    """One uint64 per value of a column (see ``column_hasher``)."""
    return column_hasher(series)(0, len(series))


def hash_rows(
    columns: list[pd.Series],
    factorized: dict[str, Factorized] | None = None,
    pool: ThreadPoolExecutor | None = None,
) -> np.ndarray:
    """One uint64 per row over the values of ``columns``, order-sensitive like tuple hashing.
    Rows are hashed in cache-sized blocks, every column of a block at once (blocks spread over
    ``pool`` when given): no column-sized temporary is made."""
    import numpy as np

    count, rows = len(columns), len(columns[0]) if columns else 0
    pool = for_rows(pool, rows)
    hashers = list(
        ordered_map(pool, lambda series: column_hasher(series, factorized, series.name), columns)
    )
    multipliers = [
        np.uint64(1000003 + sum(82520 + 2 * (count - j) for j in range(i))) for i in range(count)
    ]
    out = np.empty(rows, dtype=np.uint64)

    def hash_block(start: int) -> None:
        stop = min(rows, start + BLOCK)
        block = out[start:stop]
        block.fill(0x345678)
        with np.errstate(over="ignore"):
            for hasher, multiplier in zip(hashers, multipliers, strict=True):
                block ^= hasher(start, stop)
                block *= multiplier
            block += np.uint64(97531)

    starts = range(0, rows, BLOCK)
    if pool is None:
        for start in starts:
            hash_block(start)
    else:
        list(pool.map(hash_block, starts))
    return out


def row_hashes(
    df: pd.DataFrame,
    factorized: dict[str, Factorized] | None = None,
    pool: ThreadPoolExecutor | None = None,
) -> np.ndarray:
    """One uint64 per row over the values of every column (the index is not included);
    the work is spread over ``pool`` when given."""
    return hash_rows([df[c] for c in df.columns], factorized, pool)


def index_hashes(df: pd.DataFrame) -> bytes:
    """Hashes of a non-range index (a RangeIndex is fully described by the schema)."""
    import pandas as pd

    if isinstance(df.index, pd.RangeIndex):
        return b""
    levels = [df.index.get_level_values(i).to_series(index=None) for i in range(df.index.nlevels)]
    return hash_rows(levels).astype("<u8").tobytes()


def schema_text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(schema: dict[str, Any], hashes: np.ndarray, index: bytes = b"") -> str:
    """The content digest of a frame: SHA-256 over schema, row hashes and index hashes."""
    hasher = hashlib.sha256(schema_text(schema).encode())
    hasher.update(b"\0rows\0")
    hasher.update(memoryview(hashes.astype("<u8", copy=False)).cast("B"))
    hasher.update(b"\0index\0")
    hasher.update(index)
    return hasher.hexdigest()
