"""The model card: what a reviewer or auditor asks about one version, in text, Markdown,
HTML or JSON. Lineage (run, notebook, git commit, data versions with digests), metrics,
signature, requirements, the gates it passed on each promotion, and its approvals.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..errors import MlopsError, NotFoundError, UsageError
from ..store import schema
from . import audit
from . import manifest as manifests

if TYPE_CHECKING:
    from .versions import ModelVersion

FORMATS = ("text", "markdown", "html", "json")
HISTORY_ACTIONS = ("register", "promote", "override", "reject", "approve", "demote")


def _when(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")


def _run(mv: ModelVersion) -> dict[str, Any] | None:
    from ..tracking.runs import Run

    if mv.run_id is None:
        return None
    try:
        row = Run(mv.project, mv.run_id).refresh().row
    except NotFoundError:
        return {"run_id": mv.run_id, "missing": True}
    return {
        "run_id": row.run_id,
        "name": row.name,
        "experiment": row.experiment,
        "status": row.status,
        "user": row.user,
        "started": _when(row.start_time),
        "notebook": row.notebook_path,
        "git_commit": row.git_commit,
        "git_dirty": row.git_dirty,
        "reproducible": row.reproducible,
        "reproducibility_notes": json.loads(row.reproducibility_notes or "[]"),
    }


def _files(mv: ModelVersion) -> dict[str, Any]:
    try:
        manifest = manifests.read(mv.project.blobs, mv.flavor, mv.digest)
    except MlopsError as exc:
        return {"error": str(exc)}
    return {
        "size": sum(f.size for f in manifest.files),
        "files": [{"path": f.path, "size": f.size, "digest": f.digest} for f in manifest.files],
    }


def _history(mv: ModelVersion) -> list[dict[str, Any]]:
    table = schema.audit_events
    with mv.project.db.read() as conn:
        rows = conn.execute(
            sa.select(table.c.seq, table.c.ts, table.c.actor, table.c.action, table.c.details)
            .where(
                table.c.subject == audit.model_subject(mv.name, mv.version),
                table.c.action.in_(HISTORY_ACTIONS),
            )
            .order_by(table.c.seq)
        ).all()
    history = []
    for row in rows:
        details = json.loads(row.details)
        history.append(
            {
                "seq": row.seq,
                "time": _when(row.ts),
                "actor": row.actor,
                "action": row.action,
                "alias": details.get("alias"),
                "reason": details.get("reason"),
                "comment": details.get("comment"),
                "checks": details.get("checks", []),
            }
        )
    return history


def card_data(mv: ModelVersion) -> dict[str, Any]:
    """Everything on the card, as plain JSON-ready data."""
    history = _history(mv)
    return {
        "ref": mv.ref,
        "name": mv.name,
        "version": mv.version,
        "aliases": mv.aliases,
        "description": mv.description,
        "flavor": mv.flavor,
        "digest": mv.digest,
        "created_by": mv.created_by,
        "created_at": mv.created_at.isoformat(timespec="seconds"),
        **_files(mv),
        "lineage": {"run": _run(mv), "datasets": mv.datasets},
        "metrics": mv.metrics,
        "signature": mv.signature,
        "requirements": mv.requirements,
        "promotions": [
            h for h in history if h["action"] in ("promote", "override", "reject", "demote")
        ],
        "approvals": [h for h in history if h["action"] == "approve"],
    }


@dataclass
class Section:
    title: str
    columns: list[str]
    rows: list[list[str]]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v) for v in value)
    return str(value)


def _pairs(title: str, pairs: list[tuple[str, Any]]) -> Section:
    return Section(
        title, ["field", "value"], [[k, _cell(v)] for k, v in pairs if v not in (None, "", [])]
    )


def sections(data: dict[str, Any]) -> list[Section]:
    run = data["lineage"]["run"] or {}
    found = [
        _pairs(
            "Version",
            [
                ("model", data["ref"]),
                ("aliases", data["aliases"]),
                ("description", data["description"]),
                ("flavor", data["flavor"]),
                ("digest", data["digest"]),
                ("size", data.get("size")),
                ("integrity", data.get("error")),
                ("created by", data["created_by"]),
                ("created at", data["created_at"]),
            ],
        ),
        _pairs(
            "Lineage",
            [
                ("run", run.get("run_id") or "registered outside a run"),
                ("run name", run.get("name")),
                ("experiment", run.get("experiment")),
                ("notebook", run.get("notebook")),
                ("git commit", run.get("git_commit")),
                ("uncommitted changes", run.get("git_dirty")),
                ("reproducible", run.get("reproducible")),
                ("not reproducible because", run.get("reproducibility_notes")),
            ],
        ),
        Section(
            "Data",
            ["dataset", "digest"],
            [
                [d.get("ref", d.get("name", "")), d.get("digest", "")]
                for d in data["lineage"]["datasets"]
            ],
        ),
        Section(
            "Metrics",
            ["metric", "value"],
            [[k, _cell(v)] for k, v in sorted(data["metrics"].items())],
        ),
        Section(
            "Signature",
            ["input", "type"],
            [
                [c.get("name", ""), c.get("type", "")]
                for c in (data["signature"] or {}).get("inputs", [])
            ],
        ),
        Section(
            "Requirements",
            ["library", "version"],
            [[k, v] for k, v in sorted(data["requirements"].items())],
        ),
        Section(
            "Promotions",
            ["seq", "time", "by", "action", "alias", "reason", "gates"],
            [
                [
                    str(p["seq"]),
                    p["time"],
                    p["actor"],
                    p["action"],
                    _cell(p["alias"]),
                    _cell(p["reason"]),
                    "; ".join(f"{'ok' if c['ok'] else 'FAILED'} {c['rule']}" for c in p["checks"])
                    or "no gates",
                ]
                for p in data["promotions"]
            ],
        ),
        Section(
            "Approvals",
            ["seq", "time", "by", "alias", "comment"],
            [
                [str(a["seq"]), a["time"], a["actor"], _cell(a["alias"]), _cell(a["comment"])]
                for a in data["approvals"]
            ],
        ),
    ]
    return [s for s in found if s.rows]


def _text(title: str, parts: list[Section]) -> str:
    lines = [title, "=" * len(title)]
    for part in parts:
        lines += ["", part.title, "-" * len(part.title)]
        if part.columns == ["field", "value"]:
            width = max(len(r[0]) for r in part.rows)
            lines += [f"{k.ljust(width)}  {v}" for k, v in part.rows]
            continue
        widths = [max(len(c), *(len(r[i]) for r in part.rows)) for i, c in enumerate(part.columns)]
        for row in [part.columns, *part.rows]:
            lines.append("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines) + "\n"


def _markdown(title: str, parts: list[Section]) -> str:
    def escape(value: str) -> str:
        return value.replace("|", "\\|").replace("\n", " ")

    lines = [f"# Model card: {escape(title)}"]
    for part in parts:
        lines += [
            "",
            f"## {part.title}",
            "",
            "| " + " | ".join(part.columns) + " |",
            "|" + "---|" * len(part.columns),
        ]
        lines += ["| " + " | ".join(escape(v) for v in row) + " |" for row in part.rows]
    return "\n".join(lines) + "\n"


def _html(title: str, parts: list[Section]) -> str:
    out = [f'<div class="mlops-model-card"><h2>Model card: {html.escape(title)}</h2>']
    for part in parts:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in part.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>"
            for row in part.rows
        )
        out.append(
            f"<h3>{html.escape(part.title)}</h3><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>"
        )
    out.append("</div>")
    return "".join(out)


def render(mv: ModelVersion, format: str = "text") -> str:
    """The card of ``mv`` in ``format`` (text, markdown, html or json)."""
    if format not in FORMATS:
        raise UsageError(f"card format {format!r} is not known; use {', '.join(FORMATS)}")
    data = card_data(mv)
    if format == "json":
        return json.dumps(audit.jsonable(data), indent=2, ensure_ascii=False, default=str)
    renderer = {"text": _text, "markdown": _markdown, "html": _html}[format]
    return renderer(data["ref"], sections(data))
