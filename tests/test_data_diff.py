"""Diffs: schema, rows by hash (multiset) or by key, profile deltas, files and folders."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

import mlops_nb as mlops
from mlops_nb.data import chunks
from mlops_nb.data.api import get_dataset
from mlops_nb.errors import UsageError


@pytest.fixture
def frames():
    base = pd.DataFrame({"id": range(100), "x": np.arange(100) * 1.5, "label": ["a", "b"] * 50})
    edited = base.copy()
    edited.loc[[3, 7], "x"] = -1.0
    edited.loc[7, "label"] = "c"
    edited = pd.concat(
        [
            edited.drop(index=[10]),
            pd.DataFrame({"id": [100, 101], "x": [0.5, 0.25], "label": ["a", "z"]}),
        ],
        ignore_index=True,
    )
    return base, edited


def test_without_key_an_edited_row_is_removed_and_added(any_project, frames):
    base, edited = frames
    mlops.snapshot(base, "t")
    mlops.snapshot(edited, "t")
    diff = mlops.diff_datasets("t@1", "t@2")
    assert (diff.rows_a, diff.rows_b) == (100, 101)
    assert (diff.rows_added, diff.rows_removed, diff.rows_unchanged) == (4, 3, 97)
    assert diff.rows_changed is None and diff.schema_changes == []
    assert sorted(diff.added()["id"]) == [3, 7, 100, 101]
    assert sorted(diff.removed()["id"]) == [3, 7, 10]
    assert not diff.identical
    assert diff.summary() == "t@1 -> t@2: +4 -3 rows, 97 unchanged"


def test_with_key_edited_rows_are_changed_with_their_columns(any_project, frames):
    base, edited = frames
    mlops.snapshot(base, "t")
    mlops.snapshot(edited, "t")
    diff = mlops.diff_datasets("t@1", "t@2", key="id")
    assert (diff.rows_added, diff.rows_removed, diff.rows_changed, diff.rows_unchanged) == (
        2,
        1,
        2,
        97,
    )
    assert diff.changed_columns == {"x": 2, "label": 1}
    changed = diff.changed()
    assert changed[("t@1", "id")].tolist() == [3, 7]
    assert changed[("t@2", "x")].tolist() == [-1.0, -1.0]
    assert sorted(diff.added()["id"]) == [100, 101]
    assert diff.removed()["id"].tolist() == [10]


def test_with_key_rows_in_the_same_order_or_shuffled(project):
    index = pd.Index(range(100, 150), name="row")
    base = pd.DataFrame({"id": range(50), "x": np.arange(50.0)}, index=index)
    edited = base.copy()
    edited.loc[[105, 120], "x"] = 0.5
    mlops.snapshot(base, "o")
    mlops.snapshot(edited, "o")
    mlops.snapshot(base.sample(frac=1, random_state=0), "o")
    diff = mlops.diff_datasets("o@1", "o@2", key="id")
    assert (diff.rows_added, diff.rows_removed, diff.rows_changed, diff.rows_unchanged) == (
        0,
        0,
        2,
        48,
    )
    assert diff.changed_columns == {"x": 2}
    assert diff.changed()[("o@2", "id")].tolist() == [5, 20]
    shuffled = mlops.diff_datasets("o@1", "o@3", key="id")
    assert shuffled.identical and shuffled.rows_unchanged == 50


def test_rows_are_a_multiset_and_order_does_not_matter(project):
    df = pd.DataFrame({"a": [1, 1, 2, 3]})
    mlops.snapshot(df, "m")
    mlops.snapshot(pd.DataFrame({"a": [3, 2, 1]}), "m")
    diff = mlops.diff_datasets("m@1", "m@2")
    assert (diff.rows_added, diff.rows_removed, diff.rows_unchanged) == (0, 1, 3)
    shuffled = mlops.diff_datasets("m@1", df.iloc[::-1].reset_index(drop=True))
    assert (shuffled.rows_added, shuffled.rows_removed, shuffled.rows_unchanged) == (0, 0, 4)


def test_schema_changes_and_rows_compared_on_common_columns(project):
    df = pd.DataFrame({"id": [1, 2, 3], "n": [1, 2, 3], "old": ["x", "y", "z"]})
    mlops.snapshot(df, "s")
    new = df.drop(columns="old").assign(n=[1.0, 2.0, 4.0], extra=True)
    mlops.snapshot(new, "s")
    diff = mlops.diff_datasets("s@1", "s@2")
    assert diff.schema_changes == [
        {"column": "n", "change": "dtype", "a": "int64", "b": "float64"},
        {"column": "extra", "change": "added", "a": None, "b": "bool"},
        {"column": "old", "change": "removed", "a": "str", "b": None},
    ]
    assert diff.compared_on == ["id", "n"]
    assert (diff.rows_added, diff.rows_removed, diff.rows_unchanged) == (1, 1, 2)
    keyed = mlops.diff_datasets("s@1", "s@2", key="id")
    assert (keyed.rows_changed, keyed.changed_columns) == (1, {"n": 1})


def test_profile_deltas_and_new_values(project):
    mlops.snapshot(pd.DataFrame({"x": [1.0, 2.0, None], "c": ["a", "b", "a"]}), "p")
    mlops.snapshot(pd.DataFrame({"x": [1.0, 5.0, 6.0], "c": ["a", "b", "new"]}), "p")
    diff = mlops.diff_datasets("p@1", "p@2")
    deltas = {(d["column"], d["stat"]): d for d in diff.profile_deltas}
    assert deltas[("x", "nulls")]["delta"] == -1
    assert deltas[("x", "max")]["a"] == 2.0 and deltas[("x", "max")]["b"] == 6.0
    assert diff.new_values == {"c": ["new"]}
    assert "profile" in diff._repr_html_()
    assert diff.to_dict()["new_values"] == {"c": ["new"]}


def test_no_key_diff_reads_only_the_stored_row_hashes(project):
    mlops.snapshot(pd.DataFrame({"a": range(50)}), "h")
    mlops.snapshot(pd.DataFrame({"a": range(10, 60)}), "h")
    for version in ("h@1", "h@2"):  # destroy the data itself: the diff must not need it
        stored = get_dataset(version)
        for digest in chunks.read_manifest(project.blobs, stored.blob_digest, version)["chunks"]:
            project.blobs.delete(digest)
    diff = mlops.diff_datasets("h@1", "h@2")
    assert (diff.rows_added, diff.rows_removed, diff.rows_unchanged) == (10, 10, 40)


def test_key_errors_are_clear(project):
    mlops.snapshot(pd.DataFrame({"id": [1, 1, 2], "v": [1, 2, 3]}), "k")
    mlops.snapshot(pd.DataFrame({"id": [1, 2], "v": [1, 3]}), "k")
    with pytest.raises(UsageError, match="not unique in k@1"):
        mlops.diff_datasets("k@1", "k@2", key="id")
    with pytest.raises(UsageError, match="key column 'nope' is not in k@1"):
        mlops.diff_datasets("k@1", "k@2", key="nope")
    identical = mlops.diff_datasets("k@2", "k@2", key=["id"])
    assert identical.identical and identical.rows_unchanged == 2


def test_folder_and_file_diffs_list_files(project, tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "keep.txt").write_text("same")
    (folder / "edit.txt").write_text("one")
    (folder / "gone.txt").write_text("bye")
    mlops.snapshot(folder, "f")
    (folder / "edit.txt").write_text("two")
    os.remove(folder / "gone.txt")
    (folder / "new.txt").write_text("hi")
    mlops.snapshot(folder, "f")
    diff = mlops.diff_datasets("f@1", "f@2")
    assert (diff.files_added, diff.files_removed, diff.files_changed) == (
        ["new.txt"],
        ["gone.txt"],
        ["edit.txt"],
    )
    assert diff.rows_added is None
    with pytest.raises(UsageError, match="both must be DataFrames"):
        mlops.snapshot(pd.DataFrame({"a": [1]}), "df")
        mlops.diff_datasets("f@1", "df@1")
