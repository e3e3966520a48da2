"""Data checks: rules from code or mlops.yaml, reports stored with runs and versions."""

from __future__ import annotations

import pandas as pd
import pytest

import mlops_nb as mlops
from mlops_nb.data.checks import data_checks_status
from mlops_nb.errors import GateFailed, UsageError

RULES = {
    "rows": {"min": 3, "max": 10},
    "columns": {
        "id": {"dtype": "integer", "not_null": True, "unique": True},
        "age": {"dtype": "int64", "min": 0, "max": 120},
        "country": {"allowed": ["FR", "DE"], "not_null": True},
        "when": {"dtype": "datetime", "min": "2024-01-01"},
        "note": {"required": False},
    },
}


def people(**changes) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "age": [30, 40, 50, 60],
            "country": ["FR", "DE", "FR", "DE"],
            "when": pd.date_range("2024-02-01", periods=4, tz="UTC"),
        }
    )
    for column, values in changes.items():
        frame[column] = values
    return frame


def results(report) -> dict:
    return {(r["rule"], r["column"]): r for r in report.results}


def test_passing_frame_passes_every_rule(project):
    report = mlops.check_data(people(), rules=RULES)
    assert report.passed, str(report)
    assert report.summary() == "DataFrame: all 11 data checks passed"
    assert report.raise_if_failed() is report


def test_failures_name_rule_column_count_and_sample(project):
    bad = people(id=[1, 1, 2, None], age=[-1, 40, 200, 60], country=["FR", "US", None, "DE"])
    report = mlops.check_data(bad, rules=RULES)
    found = results(report)
    assert not report.passed
    assert found[("unique", "id")]["failing"] == 2
    assert found[("not_null", "id")]["failing"] == 1
    assert found[("dtype", "id")]["passed"] is False  # the null made it float64
    assert found[("min", "age")]["failing"] == 1 and found[("max", "age")]["failing"] == 1
    assert found[("max", "age")]["sample"] == [
        {"index": 2, "id": 2.0, "age": 200, "country": None, "when": "2024-02-03 00:00:00+00:00"}
    ]
    assert found[("allowed", "country")]["failing"] == 1  # nulls are not_null's business
    assert found[("not_null", "country")]["failing"] == 1
    assert "data checks failed" in report.summary()
    with pytest.raises(GateFailed, match="data checks failed"):
        report.raise_if_failed()
    frame = report.to_frame()
    assert list(frame.columns) == ["rule", "column", "passed", "failing", "message"]


def test_missing_columns_row_bounds_and_strict_columns(project):
    report = mlops.check_data(
        people().drop(columns=["age"]).head(2), rules={**RULES, "allow_extra_columns": False}
    )
    found = results(report)
    assert found[("required", "age")]["message"] == "column 'age' is missing"
    assert found[("rows", None)]["message"] == "2 rows, expected 3..10"
    assert ("required", "note") not in found
    strict = mlops.check_data(
        people(extra=1), rules={"columns": {"id": {}}, "allow_extra_columns": False}
    )
    assert "unexpected columns: age, country, when, extra" in str(strict)


def test_rules_are_validated(project):
    with pytest.raises(UsageError, match="unknown check 'colums'"):
        mlops.check_data(people(), rules={"colums": {}})
    with pytest.raises(UsageError, match="unknown rule 'nullable' for column 'id'"):
        mlops.check_data(people(), rules={"columns": {"id": {"nullable": False}}})
    with pytest.raises(UsageError, match="no data checks for this DataFrame"):
        mlops.check_data(people())


def test_yaml_rules_schema_change_and_stored_status(any_project):
    (any_project.root / "mlops.yaml").write_text(
        "checks:\n  people:\n    no_schema_change: true\n    rows: {min: 1}\n"
        "    columns:\n      age: {max: 100}\n"
    )
    from mlops_nb.project import Project

    Project.forget()
    v1 = mlops.snapshot(people(), "people")
    assert data_checks_status(any_project, v1.id) == (
        None,
        "no data checks recorded for this dataset version",
    )
    first = mlops.check_data("people@1")
    assert first.passed and first.target == "people@1"
    assert data_checks_status(any_project, v1.id) == (True, first.summary())
    v2 = mlops.snapshot(people(age=[1, 2, 3, 101]).astype({"age": "int32"}), "people")
    second = mlops.check_data(v2.ref)
    assert results(second)[("no_schema_change", None)]["message"] == (
        "schema changed: age: int64 -> int32"
    )
    assert data_checks_status(any_project, v2.id) == (False, second.summary())
    # a DataFrame equal to a stored version is checked as that version
    third = mlops.check_data(people(), name="people")
    assert third.target == "people@1" and third.dataset_version_id == v1.id


def test_check_in_a_run_is_stored_with_the_run(project):
    import sqlalchemy as sa

    from mlops_nb.store import schema

    with mlops.start_run() as run:
        report = mlops.check_data(people(), rules={"columns": {"id": {"unique": True}}})
    assert report.run_id == run.run_id
    with project.db.read() as conn:
        stored = conn.execute(sa.select(schema.data_check_results)).all()
    assert [(r.run_id, r.passed, r.dataset_version_id) for r in stored] == [
        (run.run_id, True, None)
    ]
