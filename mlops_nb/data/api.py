"""The data API: ``import mlops_nb as mlops; mlops.snapshot(df, "train")``.

Inside an active run (``mlops.start_run()``, ``%mlops track``, a pipeline step), ``snapshot``
records the version as an output *and* an input of the run, ``load_dataset`` and
``load_versions`` record inputs, ``capture`` records an output, and ``check_data`` stores its
report with the run (see ``mlops_nb.data.lineage``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..names import check_name
from . import lineage, refs, versions
from .diff import DatasetDiff
from .versions import DatasetVersion

if TYPE_CHECKING:
    import pandas as pd

    from .checks import DataCheckReport

__all__ = [
    "DatasetDiff",
    "DatasetVersion",
    "capture",
    "check_data",
    "datasets",
    "diff_datasets",
    "get_dataset",
    "load_dataset",
    "load_versions",
    "snapshot",
]

LIST_COLUMNS = [
    "name",
    "version",
    "digest",
    "kind",
    "rows",
    "columns",
    "size",
    "created_at",
    "created_by",
    "run_id",
    "description",
]


def _project():  # type: ignore[no-untyped-def]
    from ..tracking.context import project

    return project()


def _is_frame(obj: Any) -> bool:
    import pandas as pd

    return isinstance(obj, pd.DataFrame)


def _store(obj: Any, name: str, description: str | None) -> DatasetVersion:
    from .snapshot import snapshot_frame, snapshot_path

    check_name(name, "dataset name")
    if description is not None and not isinstance(description, str):
        raise UsageError("description must be a string")
    project = _project()
    if isinstance(obj, (str, os.PathLike)):
        version, _created = snapshot_path(project, obj, name, description)
    elif _is_frame(obj):
        version, _created = snapshot_frame(project, obj, name, description)
    else:
        hint = " (use series.to_frame())" if type(obj).__name__ == "Series" else ""
        raise UsageError(
            f"cannot snapshot a {type(obj).__module__}.{type(obj).__name__}{hint}: pass a "
            "pandas DataFrame, or the path of a file or folder"
        )
    return version


def snapshot(df_or_path: Any, name: str, description: str | None = None) -> DatasetVersion:
    """Store a DataFrame, file or folder as the next version of dataset ``name``.

    Identical content returns the existing version and stores nothing new. DataFrames come
    back from ``load_dataset`` with the same dtypes; files and folders as local paths.
    """
    version = _store(df_or_path, name, description)
    lineage.record_active(version.project, version, "output", "input")
    return version


def capture(df: pd.DataFrame, name: str = "production") -> DatasetVersion:
    """Append a batch of production data as a new version of ``name`` (deduplicated).

    Read batches back with ``load_versions(name, since=K)``.
    """
    if not _is_frame(df):
        raise UsageError(f"capture takes a pandas DataFrame, not a {type(df).__name__}")
    version = _store(df, name, None)
    lineage.record_active(version.project, version, "output")
    return version


def get_dataset(ref: str) -> DatasetVersion:
    """The version ``"train@3"``, ``"train@latest"`` or ``"train"`` names (no data is read)."""
    return refs.resolve(_project(), ref)


def load_dataset(ref: str | DatasetVersion) -> pd.DataFrame | Path:
    """The data of a version: a DataFrame, or a local path for file and folder versions.

    Every chunk read is verified against its digest (``IntegrityError`` if it does not match).
    """
    from .load import load_version

    project = _project()
    return load_version(project, refs.resolve(project, ref))


def load_versions(
    name: str, since: int | None = None, *, version_column: str | None = None
) -> pd.DataFrame:
    """Every dataframe version of ``name`` from version ``since`` (inclusive) on, concatenated.

    ``load_versions("production", since=5)`` returns the batches 5, 6, ... latest in order;
    ``version_column="batch"`` adds a column holding each row's version number. Categorical
    columns keep a categorical dtype (with the union of the batches' categories).
    """
    from .load import load_version

    check_name(name, "dataset name")
    if since is not None and (isinstance(since, bool) or not isinstance(since, int)):
        raise UsageError(f"since must be a version number, not {since!r}")
    project = _project()
    found = versions.list_versions(project, name, since=since)
    if not found:
        refs.resolve(project, name)  # a clear error when the name does not exist
        raise UsageError(f"dataset {name!r} has no version >= {since}")
    frames = []
    for version in found:
        if version.kind != "dataframe":
            raise UsageError(f"{version.ref} is a {version.kind}, not a DataFrame")
        frame = load_version(project, version)
        if version_column is not None:
            frame[version_column] = version.version
        frames.append(frame)
    return _concat(frames)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate batches; categoricals stay categorical with the union of categories."""
    import pandas as pd
    from pandas.api.types import union_categoricals

    combined = pd.concat(frames, ignore_index=True)
    for column in frames[0].columns:
        dtypes = [f[column].dtype for f in frames if column in f.columns]
        if all(isinstance(d, pd.CategoricalDtype) for d in dtypes) and not isinstance(
            combined[column].dtype, pd.CategoricalDtype
        ):
            merged = union_categoricals(
                [f[column] for f in frames if column in f.columns], ignore_order=True
            )
            combined[column] = pd.Categorical(
                combined[column], categories=merged.categories, ordered=dtypes[0].ordered
            )
    return combined


def diff_datasets(a: Any, b: Any, key: str | list[str] | None = None) -> DatasetDiff:
    """Compare two versions (references, ``DatasetVersion``s or DataFrames) of a dataset.

    ``.schema_changes``, ``.rows_added/removed/unchanged`` (multiset of row hashes: an edited
    row is one removed and one added) and, with ``key=``, ``.rows_changed`` and
    ``.changed_columns``; plus ``.profile_deltas``. Without a key no data is reloaded.
    """
    from .diff import diff_datasets as compute

    return compute(_project(), a, b, key)


def check_data(
    df_or_ref: Any, rules: dict[str, Any] | None = None, *, name: str | None = None
) -> DataCheckReport:
    """Evaluate data checks; returns a report (``.passed``, ``.summary()``, ``.results``).

    ``rules`` default to the ``checks:`` section for the dataset's name in ``mlops.yaml``
    (``name=`` gives the name for a DataFrame that is not snapshotted yet). The report is
    stored with the active run, and with the dataset version when one is known: a reference,
    or a DataFrame whose content equals a stored version.
    """
    from . import checks
    from . import fingerprint as fp
    from .load import load_version

    project = _project()
    version: DatasetVersion | None = None
    if _is_frame(df_or_ref):
        df = df_or_ref
        fp.validate_frame(df)
        digest = fp.digest(fp.frame_schema(df), fp.row_hashes(df), fp.index_hashes(df))
        version = versions.with_digest(project, digest, name)
        target = version.ref if version is not None else (name or "DataFrame")
    else:
        version = refs.resolve(project, df_or_ref)
        if version.kind != "dataframe":
            raise UsageError(f"{version.ref} is a {version.kind}; data checks need a DataFrame")
        df = load_version(project, version, record=False)
        target = version.ref
    name = name or (version.name if version is not None else None)
    if rules is None:
        rules = checks.rules_for(project, name)
        if rules is None:
            raise UsageError(
                f"no data checks for {name or 'this DataFrame'}: pass rules={{...}} or add a "
                f"'checks: {name or 'NAME'}:' section to mlops.yaml"
            )
    else:
        rules = checks.validate_rules(rules, "check_data rules")
    previous = None
    if name is not None and rules.get("no_schema_change"):
        before = versions.previous(project, name, version.version if version else None)
        previous = before.schema if before is not None else None
    report = checks.DataCheckReport(
        target,
        len(df),
        checks.evaluate(df, rules, previous),
        dataset_version_id=version.id if version else None,
    )
    from ..tracking.context import active_run

    run = active_run()
    report.run_id = run.run_id if run is not None else None
    if report.run_id is not None or report.dataset_version_id is not None:
        checks.store(project, report)
    return report


def datasets(name: str | None = None) -> pd.DataFrame:
    """One row per version (all datasets, or one), by name then version."""
    import pandas as pd

    if name is not None:
        check_name(name, "dataset name")
    rows = [
        {c: getattr(v, c) for c in LIST_COLUMNS} for v in versions.list_versions(_project(), name)
    ]
    frame = pd.DataFrame(rows, columns=LIST_COLUMNS)
    frame["created_at"] = pd.to_datetime(frame["created_at"], unit="s", utc=True)
    for column in ("rows", "columns", "size"):
        frame[column] = frame[column].astype("Int64")
    return frame
