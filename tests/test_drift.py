"""detect_drift: per-column tests, their power and false-alarm rate, signals, report exports."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial import distance

import mlops_nb as mlops
from mlops_nb.errors import UsageError
from mlops_nb.project import Project

CATS = np.array(["a", "b", "c", "d"])


def frame(n: int, seed: int, shift: float = 0.0, cat_p=None, scale: float = 1.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(shift, scale, n),
            "y": rng.exponential(2.0, n),
            "c": rng.choice(CATS, n, p=cat_p),
        }
    )


def write_config(project: Project, text: str) -> None:
    (project.root / "mlops.yaml").write_text(text, encoding="utf-8")
    Project.forget()


# --- detection and power ------------------------------------------------------------------


def test_small_samples_use_ks_and_chisquare_and_find_the_shifted_columns(project):
    ref = frame(500, seed=1)
    cur = frame(500, seed=2, shift=0.4, cat_p=[0.4, 0.3, 0.2, 0.1])
    report = mlops.detect_drift(ref, cur)
    table = report.columns.set_index("column")
    assert table.loc["x", "method"] == "ks"
    assert table.loc["c", "method"] == "chisquare"
    assert report.drifted_columns == ["x", "c"]
    assert table.loc["y", "drifted"] == False  # noqa: E712 - numpy bool
    assert table.loc["x", "statistic"] == pytest.approx(stats.ks_2samp(ref.x, cur.x).pvalue)
    assert report.drift_share == pytest.approx(2 / 3)
    assert report.dataset_drift


def test_large_samples_use_normed_wasserstein_and_jensen_shannon_base_2(project):
    ref = frame(5000, seed=3)
    cur = frame(4000, seed=4, shift=0.3, cat_p=[0.4, 0.3, 0.2, 0.1])
    report = mlops.detect_drift(ref, cur)
    table = report.columns.set_index("column")
    assert list(table.method) == ["wasserstein", "wasserstein", "jensenshannon"]
    expected = stats.wasserstein_distance(ref.x, cur.x) / np.std(ref.x)
    assert table.loc["x", "statistic"] == pytest.approx(expected, rel=1e-9)
    shares = [ref.c.value_counts(normalize=True)[k] for k in CATS]
    now = [cur.c.value_counts(normalize=True)[k] for k in CATS]
    assert table.loc["c", "statistic"] == pytest.approx(distance.jensenshannon(shares, now, base=2))
    assert report.drifted_columns == ["x", "c"]
    assert table.loc["x", "threshold"] == 0.1 and table.loc["c", "threshold"] == 0.1


def test_bounded_memory_wasserstein_equals_scipy():
    from mlops_nb.monitor.methods import WASSERSTEIN_PIECE, wasserstein_sorted

    rng = np.random.default_rng(0)
    cases = [
        (rng.normal(0, 1, 3 * WASSERSTEIN_PIECE + 17), rng.standard_t(3, 2 * WASSERSTEIN_PIECE)),
        (rng.integers(0, 7, 3 * WASSERSTEIN_PIECE) * 1.0, rng.integers(0, 9, 50_001) * 1.0),
        (rng.normal(0, 1, 4 * WASSERSTEIN_PIECE), np.array([5.0, 6.0, 7.0])),
    ]
    for u, v in cases:
        expected = stats.wasserstein_distance(u, v)
        assert wasserstein_sorted(np.sort(u), np.sort(v)) == pytest.approx(expected, rel=1e-9)


def test_numeric_column_with_few_values_is_tested_as_categories(project):
    rng = np.random.default_rng(5)
    ref = pd.DataFrame({"n": rng.integers(0, 3, 400)})
    cur = pd.DataFrame({"n": rng.choice([0, 1, 2], 400, p=[0.6, 0.2, 0.2])})
    report = mlops.detect_drift(ref, cur)
    assert report["n"].method == "chisquare"
    assert report["n"].drifted


# --- false alarms ------------------------------------------------------------------------


def test_false_alarm_rate_of_p_value_tests_stays_near_nominal(project):
    alarms = trials = dataset_alarms = 0
    for seed in range(50):
        report = mlops.detect_drift(frame(300, seed), frame(300, 1000 + seed))
        trials += len(report.results)
        alarms += len(report.drifted_columns)
        dataset_alarms += report.dataset_drift
    rate = alarms / trials
    assert 0.01 <= rate <= 0.10, rate  # nominal 0.05 over 150 column tests
    assert dataset_alarms <= 3


def test_distance_methods_do_not_alarm_on_same_distribution(project):
    for seed in range(20):
        report = mlops.detect_drift(frame(3000, seed), frame(3000, 500 + seed))
        assert report.drifted_columns == [], report.columns


# --- categorical drift and signals ----------------------------------------------------------


def test_new_categories_are_a_signal_and_drive_the_test(project):
    rng = np.random.default_rng(7)
    ref = pd.DataFrame({"c": rng.choice(CATS, 2000)})
    cur = pd.DataFrame({"c": rng.choice(np.append(CATS, ["e", "f"]), 2000)})
    report = mlops.detect_drift(ref, cur)
    result = report["c"]
    assert result.drifted and "new_categories" in result.signals
    assert sorted(result.new_categories) == ["e", "f"]
    assert result.new_category_share == pytest.approx((cur.c.isin(["e", "f"])).mean())
    assert {"column": "c", "signal": "new_categories"}.items() <= report.signals[0].items()


def test_chisquare_gives_a_finite_p_value_for_an_unseen_category(project):
    rng = np.random.default_rng(8)
    ref = pd.DataFrame({"c": rng.choice(CATS, 300)})
    cur = pd.DataFrame({"c": np.append(rng.choice(CATS, 297), ["z", "z", "z"])})
    result = mlops.detect_drift(ref, cur)["c"]
    assert result.method == "chisquare" and 0 < result.statistic <= 1
    assert result.new_categories == ["z"]


def test_null_rate_jump_is_drift_even_when_values_do_not_move(project):
    ref = frame(2000, seed=9)
    cur = frame(2000, seed=10)
    cur.loc[: len(cur) // 2, "y"] = np.nan
    report = mlops.detect_drift(ref, cur)
    assert report["y"].drifted and report["y"].signals == ["null_rate_jump"]
    assert report["y"].current_null_rate == pytest.approx(0.5, abs=0.01)
    assert report.drifted_columns == ["y"]


def test_missing_and_new_columns_are_reported(project):
    ref = frame(400, seed=11)
    cur = frame(400, seed=12).drop(columns=["y"]).assign(extra=1.0)
    report = mlops.detect_drift(ref, cur)
    assert report["y"].method == "missing" and report["y"].drifted
    assert report.drifted_columns == ["y"]
    kinds = {(s["column"], s["signal"]) for s in report.signals}
    assert kinds == {("y", "missing_column"), ("extra", "new_column")}


def test_changed_dtype_is_a_signal_and_values_are_compared_as_the_reference_kind(project):
    ref = frame(400, seed=13)
    cur = frame(400, seed=14)
    cur["x"] = cur["x"].map(lambda v: f"{v:.6f}").astype(object)
    cur.loc[:99, "x"] = "n/a"
    result = mlops.detect_drift(ref, cur)["x"]
    assert "dtype_changed" in result.signals and "null_rate_jump" in result.signals
    assert result.method == "ks" and result.current_count == 300
    assert result.drifted


def test_all_null_columns_are_reported_not_crashed(project):
    ref = frame(300, seed=15).assign(empty=np.nan)
    cur = frame(300, seed=16).assign(empty=np.nan)
    cur["y"] = np.nan
    report = mlops.detect_drift(ref, cur)
    assert report["empty"].method == "skipped" and not report["empty"].drifted
    assert report["y"].drifted and {"all_null", "null_rate_jump"} <= set(report["y"].signals)
    assert "y" in report.drifted_columns and "empty" not in report.drifted_columns
    assert len(report.tested) == 3  # 'empty' has nothing to test on either side


def test_text_and_datetime_are_skipped_by_default_and_testable_on_request(project):
    rng = np.random.default_rng(17)
    n = 3000
    ids = [f"id-{i}" for i in range(n)]
    when = pd.date_range("2024-01-01", periods=n, freq="h")
    ref = pd.DataFrame({"id": ids, "when": when, "x": rng.normal(size=n)})
    cur = pd.DataFrame({"id": ids, "when": when + pd.Timedelta(days=400), "x": rng.normal(size=n)})
    report = mlops.detect_drift(ref, cur)
    assert report["id"].method == report["when"].method == "skipped"
    assert report["id"].kind == "text" and report["when"].kind == "datetime"
    assert report.drift_share == 0 and len(report.tested) == 1
    forced = mlops.detect_drift(ref, cur, method={"when": "wasserstein"})
    assert forced["when"].drifted


def test_nullable_dtypes(project):
    ref = pd.DataFrame(
        {
            "i": pd.array([1, 2, None, 4] * 100, dtype="Int64"),
            "f": pd.array([0.5, None, 1.5, 2.5] * 100, dtype="Float64"),
            "s": pd.array(["a", "b", None, "a"] * 100, dtype="string"),
            "b": pd.array([True, False, None, True] * 100, dtype="boolean"),
        }
    )
    report = mlops.detect_drift(ref, ref.copy())
    assert report.drifted_columns == []
    assert list(report.columns.kind) == ["numeric", "numeric", "categorical", "boolean"]


# --- methods, thresholds and configuration --------------------------------------------------


def test_psi_on_reference_deciles(project):
    ref = frame(5000, seed=18)
    cur = frame(5000, seed=19, shift=0.5)
    result = mlops.detect_drift(ref, cur, method="psi")["x"]
    edges = np.quantile(ref.x, np.linspace(0, 1, 11))
    r = np.histogram(ref.x, edges)[0] / len(ref)
    c = np.histogram(np.clip(cur.x, edges[0], edges[-1]), edges)[0] / len(cur)
    assert result.method == "psi"
    assert result.statistic == pytest.approx(np.sum((c - r) * np.log(c / r)))
    assert result.drifted and result.threshold == 0.1


def test_per_column_methods_and_thresholds_from_call_and_mlops_yaml(project):
    ref, cur = frame(20_000, seed=20), frame(20_000, seed=21, shift=0.05)
    assert mlops.detect_drift(ref, cur)["x"].drifted is False
    report = mlops.detect_drift(ref, cur, method={"x": "ks"}, threshold={"y": 0.0001})
    assert report["x"].method == "ks" and report["x"].drifted  # p-values at large n
    assert report["y"].threshold == 0.0001 and report["y"].drifted
    write_config(
        project,
        "monitor:\n  drift_share: 0.2\n  ignore: [y]\n"
        "  columns:\n    x: {method: psi, threshold: 0.001}\n",
    )
    report = mlops.detect_drift(ref, cur)
    assert [r.column for r in report.results] == ["x", "c"]
    assert report["x"].method == "psi" and report["x"].threshold == 0.001
    assert report.drift_share_threshold == 0.2 and report.dataset_drift


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "magic"}, "unknown drift method 'magic'"),
        ({"method": {"c": "ks"}}, "column 'c' is categorical: ks needs numbers"),
        ({"threshold": 0.2}, "a single threshold needs a single method"),
        ({"method": {"nope": "psi"}}, "unknown column(s) ['nope']"),
        ({"columns": ["x", "nope"]}, "column(s) ['nope'] not in the reference"),
        ({"drift_share": 2}, "drift_share must be between 0 and 1"),
    ],
)
def test_bad_arguments_are_one_clear_error(project, kwargs, message):
    with pytest.raises(UsageError) as err:
        mlops.detect_drift(frame(50, 1), frame(50, 2), **kwargs)
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("monitor:\n  drift_share: high\n", "monitor.drift_share must be a number"),
        ("monitor:\n  columns:\n    x: {method: foo}\n", "monitor.columns.x.method"),
        ("monitor:\n  columns:\n    x: {treshold: 1}\n", "unknown key(s) treshold"),
        ("monitor:\n  triggers:\n    - when: 'drift_share >'\n", "cannot parse"),
        ("monitor:\n  colums: {}\n", "unknown key(s) colums"),
        (
            "monitor:\n  triggers:\n    - {when: drift_share > 0, run: r.yaml, jobs: 0}\n",
            "monitor.triggers[0].jobs must be a positive integer, not 0",
        ),
        (
            "monitor:\n  triggers:\n    - {when: drift_share > 0, executor: spark}\n",
            "monitor.triggers[0].executor: unknown executor 'spark'",
        ),
        (
            "monitor:\n  triggers:\n    - {when: drift_share > 0, job: 2}\n",
            "monitor.triggers[0] must be a mapping with 'when'",
        ),
    ],
)
def test_bad_monitor_config_names_the_key(project, text, message):
    write_config(project, text)
    with pytest.raises(UsageError) as err:
        mlops.detect_drift(frame(50, 1), frame(50, 2))
    assert message in str(err.value)


# --- bad input ---------------------------------------------------------------------------


def test_empty_batches_and_wrong_types_are_usage_errors(project):
    ref = frame(100, 1)
    with pytest.raises(UsageError, match=r"current batch is empty \(0 rows\)"):
        mlops.detect_drift(ref, ref.iloc[:0])
    with pytest.raises(UsageError, match="reference batch is empty"):
        mlops.detect_drift(ref.iloc[:0], ref)
    with pytest.raises(UsageError, match="must be a DataFrame, a data file path or a dataset"):
        mlops.detect_drift(ref, [1, 2, 3])
    with pytest.raises(UsageError, match=r"no file 'nowhere/batch\.csv'"):
        mlops.detect_drift(ref, "nowhere/batch.csv")
    twice = pd.concat([ref[["x"]], ref[["x"]]], axis=1)
    with pytest.raises(UsageError, match="duplicate column names"):
        mlops.detect_drift(ref, twice)


def test_files_and_dataset_refs_as_inputs(project):
    ref, cur = frame(3000, seed=22), frame(3000, seed=23, shift=0.5)
    cur.to_parquet(project.root / "batch.parquet")
    cur.to_csv(project.root / "batch.csv", index=False)
    mlops.snapshot(ref, "train")
    from_frames = mlops.detect_drift(ref, cur)
    for current in ("batch.parquet", "batch.csv"):
        report = mlops.detect_drift("train@latest", current)
        assert report.drifted_columns == from_frames.drifted_columns == ["x"]
        assert report.reference["label"] == "train@1"
    with pytest.raises(mlops.NotFoundError, match="no dataset named 'nope'"):
        mlops.detect_drift("nope@1", cur)


def test_dataset_reference_uses_its_profile_unless_raw_values_are_needed(project):
    ref, cur = frame(3000, seed=24), frame(3000, seed=25, shift=0.5)
    mlops.snapshot(ref, "train")
    by_profile = mlops.detect_drift("train@1", cur, method="psi")
    assert by_profile.reference["source"] == "profile"
    assert {r.reference_source for r in by_profile.results} == {"profile"}
    categorical_only = mlops.detect_drift("train@1", cur, columns=["c"])
    assert categorical_only.reference["source"] == "profile"
    assert categorical_only["c"].method == "jensenshannon"
    with_raw = mlops.detect_drift("train@1", cur)  # Wasserstein needs the raw reference
    assert with_raw.reference["source"] == "profile+data"
    from_frame = mlops.detect_drift(ref, cur, method="psi")
    for column in ("x", "y", "c"):
        assert by_profile[column].statistic == pytest.approx(from_frame[column].statistic)
    assert with_raw.columns.statistic.tolist() == pytest.approx(
        mlops.detect_drift(ref, cur).columns.statistic.tolist()
    )


# --- the report --------------------------------------------------------------------------


def test_report_exports(project, tmp_path):
    ref = frame(10_000, seed=26)
    cur = frame(10_000, seed=27, shift=0.5, cat_p=[0.1, 0.2, 0.3, 0.4])
    cur.loc[:10, "y"] = np.nan
    report = mlops.detect_drift(ref, cur)
    head = " ".join(report.columns.columns[:6])
    assert head == "column kind method statistic threshold drifted"
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["drifted_columns"] == ["x", "c"] and data["dataset_drift"] is True
    assert data["columns"][0]["plot"]["type"] == "hist"
    assert data["columns"][2]["plot"]["labels"][0] == "d"
    html = report.to_html(tmp_path / "report.html")
    assert (tmp_path / "report.html").read_text(encoding="utf-8") == html
    assert html.count("<svg") == 3 and "<script" not in html
    assert len(html) < 30_000  # pre-aggregated: no rows embedded
    assert report._repr_html_().count("<svg") == 3
    assert "2 of 3 columns drifted" in repr(report)
    assert set(report.figures()) == {"x", "y", "c"}


def test_report_escapes_column_names(project):
    name = "<b>&x"
    report = mlops.detect_drift(
        pd.DataFrame({name: [1.0, 2.0] * 50}), pd.DataFrame({name: [3.0] * 100})
    )
    assert "<b>&x" not in report.to_html() and "&lt;b&gt;&amp;x" in report.to_html()


# --- never a crash ------------------------------------------------------------------------

NUMBERS = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=32), st.none())
LABELS = st.one_of(st.sampled_from(["a", "b", "", "ü", "1"]), st.none())


@st.composite
def batches(draw):  # type: ignore[no-untyped-def]
    rows = draw(st.integers(1, 40))
    return pd.DataFrame(
        {
            "n": draw(st.lists(NUMBERS, min_size=rows, max_size=rows)),
            "c": draw(st.lists(LABELS, min_size=rows, max_size=rows)),
            "m": draw(st.lists(st.one_of(NUMBERS, LABELS), min_size=rows, max_size=rows)),
        }
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(reference=batches(), current=batches(), method=st.sampled_from(["auto", "psi", "chisquare"]))
def test_any_mix_of_values_gives_a_report(project, reference, current, method):
    chosen = {"c": method} if method == "chisquare" else method
    report = mlops.detect_drift(reference, current, method=chosen)
    assert [r.column for r in report.results] == ["n", "c", "m"]
    assert 0 <= report.drift_share <= 1
    json.dumps(report.to_dict(), allow_nan=False)
    report.to_html()
