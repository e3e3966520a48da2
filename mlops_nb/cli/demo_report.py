"""What ``mlops demo`` prints between and after its stages, read back from the store: the
demo shows what was recorded, not what it believes happened."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ..project import Project
    from ..registry.versions import ModelVersion

MODEL = "cancer"
SHOWN_METRICS = ("auc", "accuracy", "recall")
SHOWN_PARAMS = ("model", "balanced")
POLL_SECONDS = 0.5
SHOWN_KINDS = ("monitor", "pipeline", "step", "sweep")


def duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{seconds:.1f} s"


def _number(value: Any) -> str:
    return "-" if value is None or value != value else f"{value:.3f}"


def _production_version() -> ModelVersion | None:
    from ..errors import NotFoundError
    from ..registry.api import get_model_version

    try:
        return get_model_version(f"{MODEL}@production")
    except NotFoundError:
        return None


def _last_event(action: str) -> dict[str, Any] | None:
    from ..registry.api import audit

    events = audit(MODEL)
    events = events[events["action"] == action]
    return None if events.empty else events.iloc[-1]["details"]


def production_line(before: str | None = None) -> str | None:
    """Say which version holds production now and whether it replaced ``before``; return it."""
    version = _production_version()
    if version is None:
        click.secho(f"  no version of {MODEL!r} holds production", fg="red")
        return None
    metrics = ", ".join(f"{k} {_number(version.metrics.get(k))}" for k in SHOWN_METRICS)
    if version.ref != before:
        was = f" (replacing {before})" if before else ""
        click.secho(f"  ✓ {version.ref} is in production{was}: {metrics}", fg="green")
        return version.ref
    click.echo(f"  {version.ref} stays in production ({metrics})")
    rejected = _last_event("reject")
    if rejected is not None and rejected.get("alias") == "production":
        failed = [c["rule"] for c in rejected.get("checks", []) if not c.get("ok")]
        click.echo(f"  challenger {MODEL}@{rejected['version']} was rejected: {'; '.join(failed)}")
    return version.ref


# --- live progress of the monitoring round ------------------------------------------------


def _run_line(row: dict[str, Any], names: dict[str, str], week: int) -> str:
    if row["kind"] == "monitor":
        drifted = row.get("metrics.drifted_columns")
        state = "healthy" if row.get("metrics.healthy") == 1 else "UNHEALTHY"
        return (
            f"  week {week}: drift share {_number(row.get('metrics.drift_share'))} "
            f"({'-' if drifted != drifted else int(drifted)} columns drifted), accuracy "
            f"{_number(row.get('metrics.accuracy'))}: {state}"
        )
    where = f"{names[row['parent_id']]} > " if row.get("parent_id") in names else ""
    took = duration(row["duration"])
    return f"  {row['kind']:<8} {where}{row['name']}: {row['status']} in {took}"


@contextlib.contextmanager
def watch_monitoring() -> Iterator[None]:
    """Print each run that ends while the block runs: monitor checks, retraining steps."""
    from ..tracking.context import project
    from ..tracking.query import list_runs

    store = project()
    since = time.time()
    seen: list[str] = []
    weeks = [0]
    stop = threading.Event()

    def poll() -> None:
        frame = list_runs(store, limit=200)
        frame = frame[frame["start_time"].map(lambda t: t.timestamp()) >= since]
        names = dict(zip(frame["run_id"], frame["name"], strict=True))
        for row in frame[frame["end_time"].notna()].sort_values("end_time").to_dict("records"):
            if row["run_id"] not in seen and row["kind"] in SHOWN_KINDS:
                seen.append(row["run_id"])
                weeks[0] += row["kind"] == "monitor"
                click.echo(_run_line(row, names, weeks[0]))

    def loop() -> None:
        while not stop.wait(POLL_SECONDS):
            with contextlib.suppress(Exception):  # the store is busy: try again next tick
                poll()

    thread = threading.Thread(target=loop, name="mlops-demo-watch", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        with contextlib.suppress(Exception):
            poll()


# --- the summary -----------------------------------------------------------------------


def _runs(store: Project) -> None:
    from ..tracking.query import list_runs

    frame = list_runs(store)
    counts = frame.groupby("kind")["status"].value_counts().unstack(fill_value=0)
    parts = [f"{sum(row)} {kind}" for kind, row in counts.iterrows()]
    failed = int((frame["status"] == "failed").sum())
    click.echo(
        f"  Runs: {len(frame)} ({', '.join(parts)}); "
        f"{'none failed' if not failed else f'{failed} failed'}"
    )


def _lineage(version: ModelVersion) -> None:
    from ..registry.card import card_data

    card = card_data(version)
    run = card["lineage"]["run"] or {}
    click.echo(f"  Production model: {version.ref} (digest {version.digest[:19]}...)")
    if run:
        from ..tracking.context import get_run

        params = get_run(run["run_id"]).params
        shown = ", ".join(f"{k}={params[k]}" for k in SHOWN_PARAMS if k in params)
        click.echo(
            f"    trained by run {run['run_id'][:8]} of {run.get('notebook') or '-'} "
            f"({shown}) by {run.get('user')}; reproducible: {run.get('reproducible')}"
        )
    for dataset in card["lineage"]["datasets"]:
        click.echo(f"    read {dataset.get('ref')} ({dataset.get('digest', '')[:19]}...)")
    metrics = ", ".join(f"{k} {_number(version.metrics.get(k))}" for k in SHOWN_METRICS)
    click.echo(f"    metrics on the test patients: {metrics}")
    for event in card["promotions"]:
        verb = event.get("action")
        click.echo(
            f"    {verb} to {event.get('alias')} by {event.get('actor')}: "
            f"{event.get('reason') or ''}".rstrip(": ")
        )


def _audit() -> None:
    from ..registry.api import audit, verify_audit

    verdict = verify_audit()
    actions = audit()["action"].value_counts()
    counts = ", ".join(f"{n} {action}" for action, n in actions.items())
    if verdict:
        click.secho(
            f"  Audit trail: {verdict.events_checked} events ({counts}); hash chain verified",
            fg="green",
        )
    else:
        click.secho(f"  Audit trail: NOT intact: {verdict.reason}", fg="red")


def summary(store: Project, folder: Path) -> None:
    _runs(store)
    version = _production_version()
    if version is not None:
        _lineage(version)
    _audit()
    click.echo()
    click.echo("  Open it in JupyterLab:")
    click.secho(f"    cd {folder} && jupyter lab", bold=True)
    click.echo(
        "    then the MLOps tab in the left sidebar: Runs (each with its executed "
        "notebook), Models (cancer, its aliases and audit trail), Data (every snapshot)"
    )
    click.echo(
        "  Or from this terminal, in that folder: mlops runs ls, "
        f"mlops models show {MODEL}@production, mlops audit verify"
    )
