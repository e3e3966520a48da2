"""Diffs between two datasets: schema, rows (by row hash or by key) and profile statistics.

Rows are compared by their 8-byte hashes, which every dataframe version stores, so a diff
without a key reads no data. Without a key rows are a multiset: an edited row counts as one
removed and one added. With ``key=`` rows are matched by key (which must be unique on both
sides); a matched row whose values differ is *changed* (not added/removed), and the columns
that differ are counted. When the two schemas differ, rows are compared on the columns both
sides have, a column whose dtype changed being compared as numbers when both dtypes are
numeric, else as text. Key matching uses 64-bit hashes of the key values (a collision needs
billions of keys to become likely).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from . import fingerprint as fp
from .profile import profile_frame

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from ..project import Project
    from .versions import DatasetVersion

PROFILE_STATS = ("count", "nulls", "distinct", "min", "max", "mean", "std")
SAMPLE = 20


class Side:
    """One side of a diff: a dataframe version (data read lazily) or an in-memory frame."""

    def __init__(self, project: Project, source: Any):
        import pandas as pd

        from .refs import resolve

        self.project = project
        self.version: DatasetVersion | None = None
        self._frame: pd.DataFrame | None = None
        self._parquet: bytearray | None = None
        if isinstance(source, pd.DataFrame):
            fp.validate_frame(source)
            self._frame = source
            self.label = "DataFrame"
            self.schema = fp.frame_schema(source)
            self._profile: dict[str, Any] | None = None
        else:
            self.version = resolve(project, source)
            self.label = self.version.ref
            self.schema = self.version.schema or {}
            self._profile = self.version.profile

    @property
    def kind(self) -> str:
        return self.version.kind if self.version is not None else "dataframe"

    @property
    def rows(self) -> int:
        return len(self._frame) if self._frame is not None else int(self.version.rows or 0)

    @property
    def dtypes(self) -> dict[str, str]:
        return {c["name"]: c["dtype"] for c in self.schema.get("columns", [])}

    @property
    def profile(self) -> dict[str, Any]:
        if self._profile is None:
            self._profile = profile_frame(self.frame(list(self.dtypes)))
        return self._profile

    def frame(self, columns: list[str] | None = None) -> pd.DataFrame:
        """The data (or some columns), read from the store on first use."""
        if self._frame is not None:
            return self._frame if columns is None else self._frame[columns]
        from .load import frame_from_table

        if columns is None:  # kept: the whole frame is converted at most once
            self._frame = frame_from_table(self.table(), self.version)
            return self._frame
        return frame_from_table(self.table(columns), self.version, whole=False)

    def table(self, columns: list[str] | None = None) -> Any:
        """The data (or some columns) as a ``pyarrow.Table``; bytes are read and verified once."""
        from .load import parquet_bytes, read_table

        if self._parquet is None:
            self._parquet = parquet_bytes(self.project, self.version)
        return read_table(self._parquet, self.version, columns)

    def rows_at(self, columns: list[str], positions: np.ndarray) -> pd.DataFrame:
        """Some columns at some row positions, with their exact dtypes (converting no other)."""
        if self._frame is not None:
            return self._frame[columns].iloc[positions]
        from .load import frame_from_table

        rows = self.table(columns).take(positions)
        return frame_from_table(rows, self.version, whole=False)

    def row_hashes(self, columns: list[str], casts: dict[str, str]) -> np.ndarray:
        """Row hashes over ``columns`` (stored ones when they cover exactly the whole row)."""
        import numpy as np

        whole = columns == list(self.dtypes) and not casts
        version = self.version
        if (
            whole
            and version is not None
            and version.row_hashes_digest
            and (self.schema.get("row_hash") == fp.ROW_HASH)
        ):
            data = self.project.blobs.get_bytes(version.row_hashes_digest)
            return np.frombuffer(data, dtype="<u8")
        frame = self.frame(columns)
        return fp.hash_rows([_cast(frame[c], casts.get(c)) for c in columns])


def _cast(series: pd.Series, target: str | None) -> pd.Series:
    if target is None:
        return series
    if target == "float64":
        return series.astype("float64")
    return series.astype(str).where(series.notna(), None)


@dataclass
class DatasetDiff:
    """What changed from ``a`` to ``b``. Renders as tables in a notebook; ``to_dict()`` for JSON."""

    a: str
    b: str
    key: list[str] | None
    rows_a: int | None
    rows_b: int | None
    schema_changes: list[dict[str, Any]]
    rows_added: int | None = None
    rows_removed: int | None = None
    rows_unchanged: int | None = None
    rows_changed: int | None = None
    changed_columns: dict[str, int] = field(default_factory=dict)
    compared_on: list[str] = field(default_factory=list)
    profile_deltas: list[dict[str, Any]] = field(default_factory=list)
    new_values: dict[str, list[str]] = field(default_factory=dict)
    files_added: list[str] = field(default_factory=list)
    files_removed: list[str] = field(default_factory=list)
    files_changed: list[str] = field(default_factory=list)
    samples: dict[str, list[int]] = field(default_factory=dict, repr=False)
    _sides: tuple[Side, Side] | None = field(default=None, repr=False)

    @property
    def identical(self) -> bool:
        """No schema change, no row or file added, removed or changed."""
        counts = (self.rows_added, self.rows_removed, self.rows_changed)
        return not (
            self.schema_changes
            or any(counts)
            or self.files_added
            or self.files_removed
            or self.files_changed
        )

    def _rows(self, which: str, side: int, limit: int | None) -> pd.DataFrame:
        if self._sides is None:
            raise UsageError("this diff has no rows to show (file or folder versions)")
        positions = self.samples.get(which, [])[:limit]
        return self._sides[side].frame().iloc[positions]

    def added(self, limit: int | None = SAMPLE) -> pd.DataFrame:
        """A sample of rows of ``b`` not in ``a`` (loads ``b``)."""
        return self._rows("added", 1, limit)

    def removed(self, limit: int | None = SAMPLE) -> pd.DataFrame:
        """A sample of rows of ``a`` not in ``b`` (loads ``a``)."""
        return self._rows("removed", 0, limit)

    def changed(self, limit: int | None = SAMPLE) -> pd.DataFrame:
        """With a key: a sample of changed rows, ``a`` and ``b`` values side by side."""
        import pandas as pd

        if self.key is None:
            raise UsageError("changed rows need a key: diff_datasets(a, b, key='id')")
        before = self._rows("changed_a", 0, limit).reset_index(drop=True)
        after = self._rows("changed_b", 1, limit).reset_index(drop=True)
        return pd.concat({self.a: before, self.b: after}, axis=1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "key": self.key,
            "identical": self.identical,
            "rows_a": self.rows_a,
            "rows_b": self.rows_b,
            "schema_changes": self.schema_changes,
            "rows_added": self.rows_added,
            "rows_removed": self.rows_removed,
            "rows_unchanged": self.rows_unchanged,
            "rows_changed": self.rows_changed,
            "changed_columns": self.changed_columns,
            "compared_on": self.compared_on,
            "profile_deltas": self.profile_deltas,
            "new_values": self.new_values,
            "files_added": self.files_added,
            "files_removed": self.files_removed,
            "files_changed": self.files_changed,
        }

    def summary(self) -> str:
        """One line: what changed."""
        if self.identical:
            return f"{self.a} -> {self.b}: identical"
        parts = []
        if self.schema_changes:
            parts.append(f"{len(self.schema_changes)} schema changes")
        if self.rows_added is not None:
            parts.append(f"+{self.rows_added} -{self.rows_removed} rows")
            if self.rows_changed is not None:
                parts.append(f"~{self.rows_changed} changed")
            parts.append(f"{self.rows_unchanged} unchanged")
        for label, files in (
            ("+", self.files_added),
            ("-", self.files_removed),
            ("~", self.files_changed),
        ):
            if files:
                parts.append(f"{label}{len(files)} files")
        return f"{self.a} -> {self.b}: " + ", ".join(parts)

    def __str__(self) -> str:
        from .display import diff_text

        return diff_text(self)

    def _repr_html_(self) -> str:
        from .display import diff_html

        return diff_html(self)


# --- computing a diff -------------------------------------------------------------------


def schema_changes(a: dict[str, str], b: dict[str, str]) -> list[dict[str, Any]]:
    changes: list[dict[str, Any]] = []
    for name in b:
        if name not in a:
            changes.append({"column": name, "change": "added", "a": None, "b": b[name]})
        elif a[name] != b[name]:
            changes.append({"column": name, "change": "dtype", "a": a[name], "b": b[name]})
    changes += [{"column": n, "change": "removed", "a": a[n], "b": None} for n in a if n not in b]
    return changes


def _common_casts(a: Side, b: Side, columns: list[str]) -> dict[str, str]:
    import pandas as pd

    casts = {}
    for name in columns:
        dtype_a, dtype_b = a.dtypes[name], b.dtypes[name]
        if dtype_a != dtype_b:
            numeric = all(
                _is_number(pd.api.types.pandas_dtype(d))
                for d in (dtype_a, dtype_b)
                if d != "category"
            )
            casts[name] = "float64" if numeric and "category" not in (dtype_a, dtype_b) else "str"
    return casts


def _is_number(dtype: Any) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _first_missing(values: np.ndarray, pool: np.ndarray, limit: int = SAMPLE) -> list[int]:
    """Positions of the first ``limit`` values not in the sorted array ``pool``."""
    import numpy as np

    found: list[int] = []
    block = 65536
    for start in range(0, len(values), block):
        part = values[start : start + block]
        absent = np.flatnonzero(~_member(part, pool))
        found.extend((absent + start)[: limit - len(found)].tolist())
        if len(found) >= limit:
            break
    return found


def _lookup(values: np.ndarray, pool: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each value, its position in the sorted ``pool`` and whether it is there."""
    import numpy as np

    if not len(pool):
        return np.zeros(len(values), dtype=np.int64), np.zeros(len(values), dtype=bool)
    where = np.minimum(np.searchsorted(pool, values), len(pool) - 1)
    return where, pool[where] == values


def _member(values: np.ndarray, pool: np.ndarray) -> np.ndarray:
    return _lookup(values, pool)[1]


def _multiset(diff: DatasetDiff, ha: np.ndarray, hb: np.ndarray) -> None:
    import numpy as np

    ua, ub = np.sort(ha), np.sort(hb)
    if np.any(ua[1:] == ua[:-1]) or np.any(ub[1:] == ub[:-1]):  # repeated rows: count them
        ua, ca = np.unique(ua, return_counts=True)
        ub, cb = np.unique(ub, return_counts=True)
        where, shared = _lookup(ub, ua)
        matched = int(np.minimum(ca[where[shared]], cb[shared]).sum())
    else:
        matched = int(np.count_nonzero(_member(ub, ua)))
    diff.rows_unchanged = matched
    diff.rows_removed = len(ha) - matched
    diff.rows_added = len(hb) - matched
    diff.samples["added"] = _first_missing(hb, ua)
    diff.samples["removed"] = _first_missing(ha, ub)


def _key_hashes(side: Side, key: list[str]) -> np.ndarray:
    """One hash per row over the key columns, refusing a key that is not unique."""
    import numpy as np

    frame = side.frame(key)
    hashes = fp.row_hashes(frame)
    ordered = np.sort(hashes)
    duplicates = int(np.count_nonzero(ordered[1:] == ordered[:-1]))
    if duplicates:
        raise UsageError(
            f"key {key} is not unique in {side.label} ({duplicates} repeated values); pass a "
            "unique key, or none to compare rows as a multiset"
        )
    return hashes


def _align(ka: np.ndarray, kb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions ``(ia, ib)`` of the keys both sides have, and a mask of ``a``'s matched rows."""
    import numpy as np

    if np.array_equal(ka, kb):  # the usual case: same keys in the same order
        everything = np.arange(len(ka))
        return everything, everything, np.ones(len(ka), dtype=bool)
    oa, ob = np.argsort(ka), np.argsort(kb)
    where, shared = _lookup(kb[ob], ka[oa])
    kept = np.zeros(len(ka), dtype=bool)
    kept[oa[where[shared]]] = True
    return oa[where[shared]], ob[shared], kept


def _by_key(
    diff: DatasetDiff, a: Side, b: Side, key: list[str], ha: np.ndarray, hb: np.ndarray
) -> None:
    import numpy as np

    with ThreadPoolExecutor(2) as pool:  # both sides are read (and verified) at once
        ka, kb = pool.map(lambda side: _key_hashes(side, key), (a, b))
    ia, ib, kept = _align(ka, kb)
    differs = ha[ia] != hb[ib]
    diff.rows_changed = int(np.count_nonzero(differs))
    diff.rows_unchanged = len(ia) - diff.rows_changed
    diff.rows_removed = len(ka) - len(ia)
    diff.rows_added = len(kb) - len(ia)
    matched_b = np.zeros(len(kb), dtype=bool)
    matched_b[ib] = True
    diff.samples["added"] = np.flatnonzero(~matched_b)[:SAMPLE].tolist()
    diff.samples["removed"] = np.flatnonzero(~kept)[:SAMPLE].tolist()
    pos_a, pos_b = ia[differs], ib[differs]
    order = np.argsort(pos_b)
    pos_a, pos_b = pos_a[order], pos_b[order]
    diff.samples["changed_a"] = pos_a[:SAMPLE].tolist()
    diff.samples["changed_b"] = pos_b[:SAMPLE].tolist()
    if diff.rows_changed:
        _count_changed_columns(diff, a, b, key, pos_a, pos_b)


def _count_changed_columns(
    diff: DatasetDiff, a: Side, b: Side, key: list[str], pos_a: np.ndarray, pos_b: np.ndarray
) -> None:
    """Per column, how many of the changed rows differ in it (reading only those rows)."""
    import numpy as np

    casts = _common_casts(a, b, diff.compared_on)
    columns = [name for name in diff.compared_on if name not in key]
    rows_a, rows_b = a.rows_at(columns, pos_a), b.rows_at(columns, pos_b)
    for name in columns:
        col_a = _cast(rows_a[name], casts.get(name))
        col_b = _cast(rows_b[name], casts.get(name))
        count = int(np.count_nonzero(fp.column_hashes(col_a) != fp.column_hashes(col_b)))
        if count:
            diff.changed_columns[name] = count


def _profile_deltas(diff: DatasetDiff, a: Side, b: Side) -> None:
    pa, pb = a.profile.get("columns", {}), b.profile.get("columns", {})
    for name in diff.compared_on:
        ca, cb = pa.get(name), pb.get(name)
        if ca is None or cb is None:
            continue
        for stat in PROFILE_STATS:
            va, vb = ca.get(stat), cb.get(stat)
            if va == vb or (va is None and vb is None):
                continue
            numeric = isinstance(va, (int, float)) and isinstance(vb, (int, float))
            diff.profile_deltas.append(
                {
                    "column": name,
                    "stat": stat,
                    "a": va,
                    "b": vb,
                    "delta": vb - va if numeric else None,
                }
            )
        top_a, top_b = ca.get("top"), cb.get("top")
        if top_a is not None and top_b is not None and "__other__" not in top_a:
            new = [v for v in top_b if v not in top_a and v != "__other__"]
            if new:
                diff.new_values[name] = new[:SAMPLE]


def _file_entries(project: Project, version: DatasetVersion) -> dict[str, list[str]]:
    from .chunks import read_manifest

    manifest = read_manifest(project.blobs, version.blob_digest, version.ref)
    if version.kind == "folder":
        return {f["path"]: f["chunks"] for f in manifest["files"]}
    return {(version.schema or {}).get("file", version.name): manifest["chunks"]}


def _diff_files(project: Project, a: Side, b: Side) -> DatasetDiff:
    fa, fb = (_file_entries(project, s.version) for s in (a, b))
    single = a.kind == b.kind == "file"
    diff = DatasetDiff(a.label, b.label, None, None, None, [])
    if single:
        if fa != fb and list(fa.values()) != list(fb.values()):
            diff.files_changed = [next(iter(fb))]
        return diff
    diff.files_added = sorted(set(fb) - set(fa))
    diff.files_removed = sorted(set(fa) - set(fb))
    diff.files_changed = sorted(p for p in set(fa) & set(fb) if fa[p] != fb[p])
    return diff


def diff_datasets(
    project: Project, a: Any, b: Any, key: str | list[str] | None = None
) -> DatasetDiff:
    """Compare two datasets (references, versions or DataFrames); see the module docstring."""
    side_a, side_b = Side(project, a), Side(project, b)
    kinds = {side_a.kind, side_b.kind}
    if kinds != {"dataframe"}:
        if "dataframe" in kinds:
            raise UsageError(
                f"cannot compare {side_a.label} ({side_a.kind}) with {side_b.label} "
                f"({side_b.kind}): both must be DataFrames, or both files/folders"
            )
        if key is not None:
            raise UsageError("key= applies to DataFrame versions, not files or folders")
        return _diff_files(project, side_a, side_b)
    keys = [key] if isinstance(key, str) else list(key) if key is not None else None
    dtypes_a, dtypes_b = side_a.dtypes, side_b.dtypes
    diff = DatasetDiff(
        side_a.label,
        side_b.label,
        keys,
        side_a.rows,
        side_b.rows,
        schema_changes(dtypes_a, dtypes_b),
        _sides=(side_a, side_b),
    )
    for name in keys or []:
        if name not in dtypes_a or name not in dtypes_b:
            where = side_a.label if name not in dtypes_a else side_b.label
            raise UsageError(
                f"key column {name!r} is not in {where}; columns: "
                f"{', '.join(dtypes_a if name not in dtypes_a else dtypes_b)}"
            )
    diff.compared_on = [c for c in dtypes_a if c in dtypes_b]
    if list(dtypes_a) == list(dtypes_b) and dtypes_a == dtypes_b:
        ha = side_a.row_hashes(diff.compared_on, {})
        hb = side_b.row_hashes(diff.compared_on, {})
    else:
        casts = _common_casts(side_a, side_b, diff.compared_on)
        ha = side_a.row_hashes(diff.compared_on, casts)
        hb = side_b.row_hashes(diff.compared_on, casts)
    if keys is None:
        _multiset(diff, ha, hb)
    else:
        _by_key(diff, side_a, side_b, keys, ha, hb)
    _profile_deltas(diff, side_a, side_b)
    return diff
