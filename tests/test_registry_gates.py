"""Promotion: policies from mlops.yaml, each kind of gate, approvals, force, demotion."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa
from test_registry import actions, fit_model, register, set_config

import mlops_nb as mlops
from mlops_nb.errors import GateFailed, NotFoundError, UsageError
from mlops_nb.registry.api import PromotionResult, demote, get_model_version
from mlops_nb.store import schema


def rejected(*args, **kwargs):
    """Promote expecting a rejection; return the result it carries."""
    with pytest.raises(mlops.PromotionRejected) as exc:
        mlops.promote(*args, **kwargs)
    return exc.value.result


def check(result, prefix: str):
    return next(c for c in result.checks if c.rule.startswith(prefix))


def holder(alias: str, name: str = "churn") -> int | None:
    frame = mlops.models(name)
    held = frame[frame["aliases"].map(lambda a: alias in a)]
    return None if held.empty else int(held["version"].iloc[0])


def test_alias_without_policy_is_allowed_and_says_so(any_project):
    register()
    result = mlops.promote("churn", 1, to="staging", reason="try it")
    assert result and result.promoted and not result.has_policy and result.checks == []
    assert "no promotion policy for 'staging'" in result.summary()
    assert holder("staging") == 1
    event = mlops.audit("churn").iloc[-1]
    assert event["action"] == "promote" and event["subject"] == "model:churn@1"
    assert event["details"]["reason"] == "try it" and event["details"]["policy"] is False


def test_moving_an_alias_replaces_the_holder_and_rerunning_changes_nothing(any_project):
    register()
    register(seed=1)
    mlops.promote("churn", 1, to="production")
    result = mlops.promote("churn@2", to="production")
    assert result.previous == 1 and holder("production") == 2
    again = mlops.promote("churn", "v2", to="production")
    assert again and not again.changed and "already holds" in again.summary()
    assert actions("churn") == ["register", "register", "promote", "promote"]


def test_metric_threshold_gate_passes_and_fails(any_project):
    set_config(
        any_project,
        """
        promotion:
          production:
            require:
              - metrics.auc >= 0.85 and metrics.f1 > 0.5
    """,
    )
    register(auc=0.8, f1=0.7)
    register(seed=1, auc=0.9, f1=0.7)
    result = rejected("churn", 1, to="production", reason="hope")
    assert isinstance(result, PromotionResult) and not result
    (failed,) = result.failed
    assert (failed.observed, failed.ok) == ("auc=0.8, f1=0.7", False)
    assert failed.required == "metrics.auc >= 0.85 and metrics.f1 > 0.5"
    assert holder("production") is None
    assert mlops.promote("churn", 2, to="production").checks[0].ok
    assert actions("churn")[-2:] == ["reject", "promote"]
    assert mlops.audit("churn")["details"].iloc[-2]["checks"][0]["ok"] is False


def test_rejection_is_a_gate_failure_with_exit_code_1(project):
    set_config(project, "promotion: {production: {require: ['metrics.auc >= 0.99']}}")
    register(auc=0.5)
    with pytest.raises(GateFailed) as exc:
        mlops.promote("churn", 1)
    assert exc.value.exit_code == 1
    assert str(exc.value).startswith("churn@1 was not promoted to production: 1 of 1 checks")
    assert "\n" not in str(exc.value)


def test_a_gate_on_a_missing_metric_fails_that_check_clearly(project):
    set_config(
        project,
        """
        promotion:
          production:
            require: [metrics.auc >= 0.8, metrics.f1 >= 0.5]
    """,
    )
    register(f1=0.9, recall=0.4)
    result = rejected("churn", 1)
    missing = check(result, "metrics.auc")
    assert not missing.ok
    assert missing.observed == "churn@1 has no metric 'auc' (recorded: f1, recall)"
    assert check(result, "metrics.f1").ok


def test_beats_the_champion(any_project):
    set_config(
        any_project,
        """
        promotion:
          production:
            require:
              - beats: production on auc by >= 0.01
    """,
    )
    register(auc=0.80)
    register(seed=1, auc=0.805)
    register(seed=2, auc=0.83)
    first = mlops.promote("churn", 1, to="production")
    assert check(first, "beats").observed == "no version holds production: nothing to beat"
    result = rejected("churn", 2, to="production")
    beats = check(result, "beats")
    assert beats.observed == "0.805 vs 0.8 (churn@1): +0.005"
    assert beats.required == "auc - production >= 0.01"
    assert mlops.promote("churn", 3, to="production").previous == 1


def test_beats_lower_is_better_relative_and_missing_metrics(project):
    set_config(
        project,
        """
        promotion:
          production:
            require: ["beats: production on metrics.rmse by <= -10%"]
          champion:
            require: ["beats: production on mae"]
    """,
    )
    register(rmse=10.0)
    register(seed=1, rmse=9.5)
    register(seed=2, rmse=8.0)
    mlops.promote("churn", 1, to="production")
    assert check(rejected("churn", 2), "beats").observed == "9.5 vs 10 (churn@1): -5%"
    assert mlops.promote("churn", 3).promoted
    missing = check(rejected("churn", 2, to="champion"), "beats")
    assert missing.observed.startswith("churn@2 has no metric 'mae'")


def test_beats_using_the_same_evaluation_data(project):
    set_config(
        project,
        """
        promotion:
          production:
            require: ["beats: production on auc using holdout"]
    """,
    )
    holdout = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
    versions = []
    for seed, frame, auc in ((0, holdout, 0.8), (1, holdout, 0.9), (2, holdout.head(2), 0.95)):
        with mlops.start_run():
            mlops.snapshot(frame, "holdout")
            mlops.log_metric("auc", auc)
            versions.append(mlops.register_model(fit_model(seed)[0], "churn"))
    mlops.promote("churn", 1, to="production")
    mlops.promote("churn", 2, to="production")  # same holdout@1, better
    different = check(rejected("churn", 3), "beats")
    assert different.observed == (
        "evaluated on different data: holdout@2 for churn@3, holdout@1 for churn@2"
    )
    assert [d["ref"] for d in versions[2].datasets] == ["holdout@2"]
    register(seed=4, auc=0.99)  # registered outside a run: no data recorded
    assert check(rejected("churn", 4), "beats").observed == "churn@4 recorded no dataset 'holdout'"


def test_from_gate_requires_holding_the_source_alias(any_project):
    set_config(any_project, "promotion: {production: {require: [{from: staging}]}}")
    register()
    register(seed=1)
    result = rejected("churn", 1)
    assert check(result, "from").observed == "no version holds staging"
    mlops.promote("churn", 2, to="staging")
    assert check(rejected("churn", 1), "from").observed == "staging is v2"
    mlops.promote("churn", 1, to="staging")
    promoted = mlops.promote("churn@staging", to="production")
    assert promoted.version == 1 and check(promoted, "from").ok


def _set_reproducible(project, run_id: str, value: bool | None, notes: str | None = None):
    with project.db.write() as conn:
        conn.execute(
            sa.update(schema.runs)
            .where(schema.runs.c.run_id == run_id)
            .values(reproducible=value, reproducibility_notes=notes)
        )


def test_reproducible_gate_reads_the_run(any_project):
    set_config(any_project, "promotion: {production: {require: [{reproducible: true}]}}")
    outside = register()
    assert "registered outside a run" in check(rejected(outside.ref), "reproducible").observed
    with mlops.start_run() as run:
        mlops.register_model(fit_model(1)[0], "churn")
    assert "no reproducibility record" in check(rejected("churn@2"), "reproducible").observed
    _set_reproducible(any_project, run.run_id, False, '["cell 3 ran before cell 2"]')
    observed = check(rejected("churn@2"), "reproducible").observed
    assert observed.endswith("is not reproducible: cell 3 ran before cell 2")
    _set_reproducible(any_project, run.run_id, True)
    assert mlops.promote("churn@2").promoted


def test_data_checks_gate(project):
    set_config(project, "promotion: {production: {require: [{data_checks: passed}]}}")
    register()
    assert "recorded no input datasets" in check(rejected("churn@1"), "data_checks").observed
    frame = pd.DataFrame({"x": [1, 2, 3], "y": [0, 1, 0]})
    with mlops.start_run():
        mlops.snapshot(frame, "train")
        mlops.register_model(fit_model(1)[0], "churn")
    unchecked = check(rejected("churn@2"), "data_checks")
    assert unchecked.observed == "train@1: no data check recorded"
    mlops.check_data("train@1", {"rows": {"min": 10}})
    assert check(rejected("churn@2"), "data_checks").observed.startswith("train@1: failed")
    mlops.check_data("train@1", {"columns": {"x": {"not_null": True}}})
    assert check(mlops.promote("churn@2"), "data_checks").observed.startswith("train@1: passed")


def test_a_check_that_breaks_fails_closed(project, monkeypatch):
    from mlops_nb.data import checks

    set_config(project, "promotion: {production: {require: [{data_checks: passed}]}}")
    with mlops.start_run():
        mlops.snapshot(pd.DataFrame({"x": [1, 2]}), "train")
        mlops.register_model(fit_model()[0], "churn")

    def broken(*_args):
        raise RuntimeError("checks store unreachable")

    monkeypatch.setattr(checks, "data_checks_status", broken)
    failed = check(rejected("churn@1"), "data_checks")
    assert failed.observed == "could not be evaluated: checks store unreachable"
    assert holder("production") is None


def test_approvals_count_distinct_people_other_than_the_promoter(any_project, monkeypatch):
    set_config(any_project, "promotion: {production: {approvals: 2}}")
    monkeypatch.setenv("MLOPS_USER", "alice")
    register()
    assert check(rejected("churn", 1), "approvals").observed == "0"
    mlops.approve("churn", 1, to="production", comment="I built it")  # self: does not count
    for user in ("bob", "bob"):
        monkeypatch.setenv("MLOPS_USER", user)
        approval = mlops.approve("churn", 1, to="production", comment="looks good")
        assert approval.approver == "bob"
    mlops.approve("churn", 1, to="staging")  # approves another alias: does not count
    monkeypatch.setenv("MLOPS_USER", "alice")
    result = rejected("churn", 1)
    assert check(result, "approvals").observed == "1 (bob)"
    assert check(result, "approvals").required == ">= 2 approvers other than alice"
    monkeypatch.setenv("MLOPS_USER", "carol")
    mlops.approve("churn@1", to="production")
    monkeypatch.setenv("MLOPS_USER", "alice")
    result = mlops.promote("churn", 1)
    assert check(result, "approvals").observed == "2 (bob, carol)" and result.actor == "alice"
    trail = mlops.audit("churn")
    approvals = trail[trail["action"] == "approve"]
    assert list(approvals["actor"]) == ["alice", "bob", "bob", "carol"]


def test_approving_an_unknown_version_fails(project):
    register()
    with pytest.raises(NotFoundError):
        mlops.approve("churn", 5, to="production")
    with pytest.raises(UsageError, match="reserved"):
        mlops.approve("churn", 1, to="latest")


def test_force_needs_a_reason_and_is_recorded_as_an_override(any_project):
    set_config(any_project, "promotion: {production: {require: ['metrics.auc >= 0.9']}}")
    register(auc=0.5)
    for reason in (None, "", "   "):
        with pytest.raises(UsageError, match="needs a reason"):
            mlops.promote("churn", 1, force=True, reason=reason)
    result = mlops.promote("churn", 1, force=True, reason="hotfix for incident 42")
    assert result.promoted and result.forced and len(result.failed) == 1
    assert "forced past 1 failed checks" in result.summary()
    event = mlops.audit("churn").iloc[-1]
    assert event["action"] == "override"
    assert event["details"]["reason"] == "hotfix for incident 42"
    assert event["details"]["checks"][0]["ok"] is False
    assert holder("production") == 1


def test_demote_removes_an_alias_with_a_reason(any_project):
    register()
    mlops.promote("churn", 1, to="production")
    with pytest.raises(UsageError, match="needs a reason"):
        demote("churn", "production", "")
    assert demote("churn", "production", "rollback") == 1
    assert holder("production") is None
    with pytest.raises(NotFoundError, match="holds alias"):
        demote("churn", "production", "again")
    with pytest.raises(NotFoundError, match="no model named"):
        demote("nope", "production", "x")
    assert actions("churn")[-1] == "demote"


def test_version_selection_errors(project):
    register()
    with pytest.raises(UsageError, match="say which version"):
        mlops.promote("churn", to="production")
    with pytest.raises(UsageError, match="not both"):
        mlops.promote("churn@1", 1, to="production")
    with pytest.raises(NotFoundError, match="no version 4"):
        mlops.promote("churn", 4, to="production")
    with pytest.raises(UsageError, match="version"):
        mlops.promote("churn", True, to="production")


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ("{production: {require: [{colour: blue}]}}", "unknown rule 'colour'"),
        ("{production: {require: ['params.lr > 1']}}", "may only read metrics.NAME"),
        ("{production: {require: ['metrics.auc >>= 1']}}", "cannot parse"),
        ("{production: {require: ['beats: production']}}", "missing 'ALIAS on METRIC'"),
        ("{production: {require: ['beats: production on auc by == 1']}}", "needs an operator"),
        ("{production: {require: ['beats: production on auc by >= x']}}", "'x' is not a number"),
        ("{production: {require: ['beats: production on auc using']}}", "one dataset name"),
        ("{production: {require: ['beats: production on auc extra']}}", "unexpected 'extra'"),
        ("{production: {require: ['beats: latest on auc']}}", "reserved"),
        ("{production: {require: [{data_checks: failed}]}}", "only takes 'passed'"),
        ("{production: {require: [{reproducible: false}]}}", "only takes True"),
        ("{production: {approvals: -1}}", "whole number"),
        ("{production: {approvals: two}}", "whole number"),
        ("{production: {require: metrics.auc > 1}}", "must be a list"),
        ("{production: {gates: []}}", "unknown key 'gates'"),
        ("{production: [metrics.auc > 1]}", "must be a mapping"),
    ],
)
def test_policy_syntax_errors_name_the_place_and_the_fix(project, policy, message):
    set_config(project, f"promotion: {policy}")
    register()
    with pytest.raises(UsageError, match=message) as exc:
        mlops.promote("churn", 1)
    assert "mlops.yaml promotion.production" in str(exc.value)
    assert holder("production") is None and actions("churn") == ["register"]


def test_approvals_may_also_be_a_require_rule(project, monkeypatch):
    set_config(project, "promotion: {production: {require: [{approvals: 1}]}}")
    register()
    monkeypatch.setenv("MLOPS_USER", "bob")
    mlops.approve("churn", 1)
    monkeypatch.setenv("MLOPS_USER", "alice")
    assert mlops.promote("churn", 1).promoted


def test_result_renders_as_a_checklist(project):
    set_config(project, "promotion: {production: {require: ['metrics.auc > 0.5']}}")
    register(auc=0.7)
    result = mlops.promote("churn", 1)
    assert result.to_frame().to_dict("records") == [
        {
            "rule": "metrics.auc > 0.5",
            "observed": "auc=0.7",
            "required": "metrics.auc > 0.5",
            "ok": True,
        }
    ]
    assert "✅" in result._repr_html_()
    assert result.to_dict()["audit_seq"] == int(mlops.audit()["seq"].iloc[-1])
    assert get_model_version("churn@production").aliases == ["production"]
