"""REST API for models (promotion gates, approvals, audit) and datasets (versions, diff)."""

from __future__ import annotations

import pytest
from support.jupyter import *  # noqa: F403 - pytest-jupyter fixtures for this module
from support.jupyter import error_body
from support.seed import seed_all


@pytest.fixture
def seeded(project):
    return seed_all(project)


def failure(response, code: int):
    assert response.code == code, response.body
    return error_body(response)


# --- models -----------------------------------------------------------------------------


def test_models_list_and_detail(api, seeded):
    listing = api.json("models")
    assert listing["models"] == [
        {
            "name": "churn",
            "latest_version": 2,
            "versions": 2,
            "aliases": {"staging": 1},
            "updated_at": listing["models"][0]["updated_at"],
        }
    ]
    detail = api.json("models", "churn")
    assert detail["aliases"] == {"staging": 1}
    v1, v2 = detail["versions"]
    assert (v1["version"], v1["aliases"], v1["metrics"]) == (1, ["staging"], {"auc": 0.8})
    assert (v2["version"], v2["flavor"], v2["run_id"]) == (2, "file", seeded.runs["train-v2"])
    actions = [e["action"] for e in detail["audit"]]
    assert actions == ["register", "register", "promote"]
    assert detail["audit"][2]["details"]["reason"] == "first candidate"


def test_promote_passing_the_gate_moves_the_alias(api, seeded):
    response = api.post(
        "models", "churn", "promote", body={"version": 2, "to": "production", "reason": "auc 0.90"}
    )
    body = response.json()
    assert response.code == 200 and body["promoted"] is True
    assert body["checks"] == [
        {
            "rule": "metrics.auc >= 0.85",
            "observed": body["checks"][0]["observed"],
            "required": body["checks"][0]["required"],
            "ok": True,
        }
    ]
    detail = api.json("models", "churn")
    assert detail["aliases"] == {"staging": 1, "production": 2}
    assert detail["audit"][-1]["action"] == "promote"


def test_promote_rejected_by_a_gate_is_409_with_the_checks(api, seeded):
    body = failure(
        api.post(
            "models", "churn", "promote", body={"version": 1, "to": "production", "reason": "try"}
        ),
        409,
    )
    assert "was not promoted" in body["error"]
    [check] = body["checks"]
    assert check["rule"] == "metrics.auc >= 0.85" and check["ok"] is False
    assert "0.8" in check["observed"]
    detail = api.json("models", "churn")
    assert "production" not in detail["aliases"]  # nothing moved
    assert detail["audit"][-1]["action"] == "reject"  # but the rejection is recorded


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"to": "production", "reason": "r"}, "version"),
        ({"version": True, "to": "production", "reason": "r"}, "version"),
        ({"version": 2, "reason": "r"}, "to is required"),
        ({"version": 2, "to": "production"}, "reason is required"),
        ({"version": 2, "to": "production", "reason": 5}, "reason must be a string"),
        ({"version": 2, "to": "../prod", "reason": "r"}, "alias"),
        ({"version": 2**75, "to": "production", "reason": "r"}, "numbered from 1"),
    ],
)
def test_promote_validates_its_body(api, seeded, body, fragment):
    error = failure(api.post("models", "churn", "promote", body=body), 400)
    assert fragment in error["error"]


def test_promote_unknown_model_or_version_is_404(api, seeded):
    failure(
        api.post("models", "nope", "promote", body={"version": 1, "to": "staging", "reason": "r"}),
        404,
    )
    failure(
        api.post("models", "churn", "promote", body={"version": 9, "to": "staging", "reason": "r"}),
        404,
    )


def test_approve_is_recorded_as_the_hub_user(api, seeded, monkeypatch):
    # JupyterHub's single-user servers often share one login name (jovyan): the hub's wins.
    monkeypatch.setenv("JUPYTERHUB_USER", "dana")
    response = api.post(
        "models",
        "churn",
        "approve",
        body={"version": 2, "to": "production", "comment": "looks good"},
    )
    body = response.json()
    assert response.code == 201
    assert (body["version"], body["alias"], body["comment"]) == (2, "production", "looks good")
    detail = api.json("models", "churn")
    assert (detail["audit"][-1]["action"], detail["audit"][-1]["actor"]) == ("approve", "dana")


def test_a_run_behind_a_model_cannot_be_deleted(api, seeded):
    response = api.fetch(f"runs/{seeded.runs['train-v1']}", method="DELETE")
    assert response.code == 400
    assert "produced model churn@1" in error_body(response)["error"]
    assert api.json("runs", seeded.runs["train-v1"])["run"]["deleted_at"] is None


@pytest.mark.parametrize("name", ["nope", "..", "a b"])
def test_unknown_or_invalid_model_is_a_json_error(api, seeded, name):
    response = api.get("models", name)
    assert response.code in (400, 404)
    error_body(response)


# --- datasets ---------------------------------------------------------------------------


def test_datasets_list_and_detail(api, seeded):
    listing = api.json("datasets")
    [train] = listing["datasets"]
    assert (train["name"], train["latest_version"], train["versions"]) == ("train", 2, 2)
    assert (train["rows"], train["columns"]) == (7, 4)
    detail = api.json("datasets", "train")
    v1, v2 = detail["versions"]
    assert v1["schema"] == [
        {"name": "id", "dtype": "int64"},
        {"name": "age", "dtype": "int64"},
        {"name": "plan", "dtype": "str"},
    ]
    age = next(c for c in v1["profile"] if c["column"] == "age")
    assert (age["min"], age["max"], age["nulls"]) == (27.0, 52.0, 0)
    plan = next(c for c in v1["profile"] if c["column"] == "plan")
    assert plan["top"] == {"a": 3, "b": 2, "c": 1}
    assert {"run_id": seeded.runs["train-v2"], "direction": "input"} in v2["runs"]


def test_dataset_diff_with_and_without_key(api, seeded):
    plain = api.json("datasets", "train", "diff", a="1", b="2")
    assert (plain["a"], plain["b"]) == ("train@1", "train@2")
    assert plain["schema_changes"] == [
        {"column": "score", "change": "added", "a": None, "b": "float64"}
    ]
    assert (plain["rows_added"], plain["rows_removed"], plain["rows_changed"]) == (2, 1, None)
    keyed = api.json("datasets", "train", "diff", a="1", b="latest", key="id")
    assert (keyed["rows_added"], keyed["rows_removed"], keyed["rows_changed"]) == (1, 0, 1)
    assert keyed["changed_columns"] == {"age": 1}


@pytest.mark.parametrize(
    "params",
    [{"a": "1"}, {"a": "1", "b": "x"}, {"a": "1", "b": "-1"}, {"a": "1", "b": "2", "key": "nope"}],
)
def test_dataset_diff_bad_input_is_a_json_400(api, seeded, params):
    failure(api.get("datasets", "train", "diff", **params), 400)


def test_unknown_dataset_or_version_is_404(api, seeded):
    failure(api.get("datasets", "nope"), 404)
    failure(api.get("datasets", "train", "diff", a="1", b="9"), 404)


def test_run_detail_shows_lineage(api, seeded):
    body = api.json("runs", seeded.runs["train-v2"])
    lineage = body["lineage"]
    assert [(d["name"], d["version"]) for d in lineage["datasets_read"]] == [("train", 2)]
    assert [(d["name"], d["version"]) for d in lineage["datasets_produced"]] == [("train", 2)]
    assert [(m["name"], m["version"]) for m in lineage["models"]] == [("churn", 2)]
