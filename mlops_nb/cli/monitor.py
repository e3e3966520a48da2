"""``mlops monitor``: check a production batch for drift and decay; start retraining.

Exit codes: 0 healthy, 1 a threshold broke (dataset drift, a degraded metric, a fired
trigger, or the retraining pipeline failed), 2 usage error (bad file, unknown dataset or
model, bad mlops.yaml monitor section, an empty batch).
"""

from __future__ import annotations

import sys

import click

from .output import json_option, print_json, print_table

DRIFT_COLUMNS = ["column", "method", "statistic", "threshold", "drifted", "psi", "signals"]


def _print_drift(report) -> None:  # type: ignore[no-untyped-def]
    rows = [
        (
            r.column,
            r.method,
            r.statistic,
            r.threshold,
            "DRIFT" if r.drifted else "",
            r.psi,
            ", ".join(r.signals),
        )
        for r in report.results
    ]
    print_table(rows, DRIFT_COLUMNS, title=report.summary())
    for signal in report.signals:
        click.echo(f"  {signal['column']}: {signal['signal']} ({signal['detail']})")


def _print_result(result) -> None:  # type: ignore[no-untyped-def]
    if result.drift is not None:
        _print_drift(result.drift)
    if result.comparisons:
        rows = [
            (c.metric, c.baseline, c.current, c.change, "DEGRADED" if c.degraded else "")
            for c in result.comparisons
        ]
        print_table(rows, ["metric", "baseline", "current", "change", ""], title="performance")
    elif result.metrics:
        print_table(sorted(result.metrics.items()), ["metric", "current"], title="performance")
    for fired in result.fired:
        if fired.started:
            state = "ok" if fired.ok else f"FAILED {fired.error or ''}".strip()
            click.echo(f"trigger {fired.when!r} started {fired.run}: run {fired.run_id} {state}")
        else:
            click.echo(f"trigger {fired.when!r} fired (not started: --no-trigger or no run)")
    for note in result.notes:
        click.echo(f"note: {note}")
    if result.healthy:
        click.echo(f"healthy (run {result.run_id})")
    else:
        click.echo(f"UNHEALTHY (run {result.run_id}): " + "; ".join(result.problems))


@click.command()
@click.option("--model", "-m", help="Registered model to score, e.g. churn@production.")
@click.option(
    "--reference", "-r", help="Reference data: a dataset ref (train@latest) or a data file."
)
@click.option(
    "--current", "-c", required=True, help="Production batch: a data file or a dataset ref."
)
@click.option("--labels", "-l", help="Label column of the current batch (enables metrics).")
@click.option(
    "--no-trigger", is_flag=True, help="Report fired triggers without starting their pipelines."
)
@json_option
def monitor(
    model: str | None,
    reference: str | None,
    current: str,
    labels: str | None,
    no_trigger: bool,
    as_json: bool,
) -> None:
    """Check a production batch for drift (vs --reference) and decay (with --labels).

    Triggers in mlops.yaml (monitor.triggers) start their pipeline when their condition
    holds. Exit codes: 0 healthy, 1 a threshold broke, 2 usage error.
    """
    from ..monitor.api import monitor as run_check

    result = run_check(
        model=model, reference=reference, current=current, labels=labels, trigger=not no_trigger
    )
    if as_json:
        print_json(result.to_dict())
    else:
        _print_result(result)
    if not result.healthy:
        sys.exit(1)
