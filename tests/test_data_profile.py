"""Profiles: exact statistics in the documented format (the drift monitor's reference)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlops_nb as mlops
from mlops_nb.data.profile import OTHER, profile_frame

NUMERIC_KEYS = {
    "dtype",
    "kind",
    "count",
    "nulls",
    "distinct",
    "distinct_approx",
    "min",
    "max",
    "mean",
    "std",
    "quantiles",
    "bins",
    "bin_counts",
}
TOP_KEYS = {"dtype", "kind", "count", "nulls", "distinct", "distinct_approx", "top"}


def test_numeric_profile_matches_numpy(project):
    rng = np.random.default_rng(1)
    values = rng.normal(10, 3, 5000)
    values[::17] = np.nan
    version = mlops.snapshot(pd.DataFrame({"x": values}), "num")
    col = version.profile["columns"]["x"]
    present = values[~np.isnan(values)]
    assert set(col) == NUMERIC_KEYS
    assert (col["kind"], col["dtype"], col["distinct_approx"]) == ("numeric", "float64", False)
    assert col["count"] == present.size and col["nulls"] == values.size - present.size
    assert col["distinct"] == np.unique(present).size
    assert col["min"] == present.min() and col["max"] == present.max()
    assert col["mean"] == pytest.approx(present.mean(), rel=1e-12)
    assert col["std"] == pytest.approx(present.std(ddof=1), rel=1e-12)
    expected_q = np.quantile(present, [0.05, 0.25, 0.5, 0.75, 0.95])
    assert list(col["quantiles"]) == ["0.05", "0.25", "0.5", "0.75", "0.95"]
    assert list(col["quantiles"].values()) == list(expected_q)
    edges = np.quantile(present, np.linspace(0, 1, 11))
    assert col["bins"] == list(edges)
    assert col["bin_counts"] == np.histogram(present, edges)[0].tolist()
    assert sum(col["bin_counts"]) == present.size
    assert version.profile["rows"] == 5000


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.integers(-5, 5), st.floats(-1e6, 1e6), st.none()), max_size=40))
def test_bins_and_counts_equal_numpy_for_any_values(values):
    series = pd.Series([np.nan if v is None else v for v in values], dtype="float64")
    col = profile_frame(pd.DataFrame({"x": series}))["columns"]["x"]
    present = series.dropna().to_numpy()
    if present.size == 0:
        assert col["bins"] == [] and col["bin_counts"] == [] and col["min"] is None
        return
    edges = np.quantile(present, np.linspace(0, 1, 11))
    assert col["bins"] == list(edges)
    assert col["bin_counts"] == np.histogram(present, edges)[0].tolist()
    assert col["distinct"] == len(set(present.tolist()))


def test_kinds_and_top_values():
    df = pd.DataFrame(
        {
            "flag": [True, False, True, None] * 25,
            "grade": pd.Categorical(["a", "b", "a", "c"] * 25, categories=["a", "b", "c", "z"]),
            "city": ["Paris", "Lyon", None, "Paris"] * 25,
            "n": pd.array([1, 2, None, 4] * 25, dtype="Int64"),
            "when": pd.date_range("2024-01-01", periods=100, freq="D", tz="UTC"),
            "wait": pd.to_timedelta(np.arange(100), unit="min"),
        }
    )
    cols = profile_frame(df)["columns"]
    assert {k: c["kind"] for k, c in cols.items()} == {
        "flag": "boolean",
        "grade": "categorical",
        "city": "categorical",
        "n": "numeric",
        "when": "datetime",
        "wait": "numeric",
    }
    assert cols["flag"]["top"] == {"True": 50, "False": 25}
    assert set(cols["flag"]) == TOP_KEYS
    assert cols["grade"]["top"] == {"a": 50, "b": 25, "c": 25}  # unused 'z' left out
    assert (cols["grade"]["distinct"], cols["city"]["nulls"]) == (3, 25)
    assert cols["city"]["top"] == {"Paris": 50, "Lyon": 25}
    assert (cols["n"]["count"], cols["n"]["nulls"], cols["n"]["max"]) == (75, 25, 4.0)
    assert cols["when"]["distinct"] == 100 and "top" not in cols["when"]
    assert cols["wait"]["max"] == 99 * 60.0


def test_high_cardinality_text_keeps_the_top_1000_and_other():
    values = [f"id{i}" for i in range(3000)] + ["common"] * 10
    col = profile_frame(pd.DataFrame({"s": values}))["columns"]["s"]
    assert col["kind"] == "text" and col["distinct"] == 3001
    assert len(col["top"]) == 1001
    assert next(iter(col["top"].items())) == ("common", 10)
    assert col["top"][OTHER] == 3010 - 10 - 999
    assert sum(col["top"].values()) == col["count"]


def test_all_null_and_single_value_columns():
    df = pd.DataFrame({"x": [np.nan, np.nan], "y": [1.0, np.nan], "s": [None, None]})
    cols = profile_frame(df)["columns"]
    assert cols["x"]["count"] == 0 and cols["x"]["mean"] is None and cols["x"]["bins"] == []
    assert cols["y"]["std"] is None and cols["y"]["bins"] == [1.0] * 11
    assert cols["y"]["bin_counts"] == [0] * 9 + [1]
    assert cols["s"]["top"] == {} and cols["s"]["distinct"] == 0
