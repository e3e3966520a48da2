"""Promotion gates: each rule of a policy, evaluated against a candidate version -> ``Check``.

Every gate fails closed with a message saying what was observed and what was required; none
raises for missing data (a metric the version lacks, a run without a reproducibility record,
a dataset without a data check).
"""

from __future__ import annotations

import json
import operator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..conditions import Condition, MissingValue, parse_condition
from ..errors import UsageError
from ..store import schema
from . import aliases, versions

if TYPE_CHECKING:
    from ..project import Project
    from .versions import ModelVersion

OPERATORS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
BEATS_SYNTAX = "ALIAS on METRIC [by OP NUMBER[%]] [using DATASET], OP one of >= > <= <"


@dataclass(frozen=True)
class Check:
    """One evaluated rule: what it requires, what was observed, and whether it passed."""

    rule: str
    observed: str
    required: str
    ok: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class GateContext:
    """What gates may look at: the candidate, the target alias, the promoter, the store."""

    project: Project
    conn: sa.Connection
    candidate: ModelVersion
    alias: str
    actor: str

    def holder(self, alias: str) -> ModelVersion | None:
        version = aliases.holder(self.conn, self.candidate.name, alias)
        if version is None:
            return None
        return versions.get(self.project, self.conn, self.candidate.name, version)


def _number(value: float) -> str:
    return f"{value:.6g}"


def _recorded(metrics: dict[str, float]) -> str:
    return ", ".join(sorted(metrics)) if metrics else "none"


@dataclass(frozen=True)
class MetricGate:
    """``metrics.auc >= 0.85``: any condition on the candidate's recorded metrics."""

    condition: Condition

    @classmethod
    def parse(cls, text: Any, where: str) -> MetricGate:
        condition = parse_condition(text, where)
        outside = [n for n in condition.names() if not n.startswith("metrics.")]
        if outside:
            raise UsageError(
                f"{where}: {text!r} reads {', '.join(outside)}; conditions may only read "
                "metrics.NAME (e.g. 'metrics.auc >= 0.85')"
            )
        return cls(condition)

    @property
    def rule(self) -> str:
        return str(self.condition)

    def evaluate(self, ctx: GateContext) -> Check:
        metrics = ctx.candidate.metrics
        rule = self.rule
        try:
            ok = self.condition.evaluate({"metrics": metrics})
        except MissingValue as missing:
            metric = missing.name.removeprefix("metrics.")
            return Check(
                rule,
                f"{ctx.candidate.ref} has no metric {metric!r} (recorded: {_recorded(metrics)})",
                rule,
                False,
            )
        except TypeError as exc:
            return Check(rule, f"cannot compare: {exc}", rule, False)
        names = [n.removeprefix("metrics.") for n in self.condition.names()]
        observed = ", ".join(f"{n}={_number(metrics[n])}" for n in names)
        return Check(rule, observed, rule, ok)


@dataclass(frozen=True)
class FromGate:
    """``from: staging``: the candidate must hold that alias now."""

    source: str

    @property
    def rule(self) -> str:
        return f"from: {self.source}"

    def evaluate(self, ctx: GateContext) -> Check:
        current = aliases.holder(ctx.conn, ctx.candidate.name, self.source)
        if current is None:
            observed = f"no version holds {self.source}"
        else:
            observed = f"{self.source} is v{current}"
        return Check(
            self.rule,
            observed,
            f"{self.source} is v{ctx.candidate.version}",
            current == ctx.candidate.version,
        )


@dataclass(frozen=True)
class BeatsGate:
    """``beats: production on auc by >= 0.01 [using holdout]``: champion vs challenger.

    The difference is ``challenger - champion`` (relative to the champion with ``%``); use
    ``by <= -0.5`` for lower-is-better metrics. Passes when no version holds the alias yet.
    With ``using DATASET`` both versions must have been evaluated on the same version of
    that dataset (as recorded from their runs), else the comparison fails.
    """

    text: str
    alias: str
    metric: str
    op: str = ">"
    threshold: float = 0.0
    relative: bool = False
    data: str | None = None

    @classmethod
    def parse(cls, text: Any, where: str) -> BeatsGate:
        def bad(problem: str) -> UsageError:
            return UsageError(f"{where}: beats {text!r}: {problem}; expected '{BEATS_SYNTAX}'")

        if not isinstance(text, str):
            raise bad("must be a string")
        tokens = text.split()
        if len(tokens) < 3 or tokens[1] != "on":
            raise bad("missing 'ALIAS on METRIC'")
        try:
            alias = aliases.check_alias(tokens[0])
        except UsageError as exc:
            raise bad(str(exc)) from None
        metric = tokens[2].removeprefix("metrics.")
        rest = tokens[3:]
        fields: dict[str, Any] = {}
        if rest[:1] == ["by"]:
            if len(rest) < 3 or rest[1] not in OPERATORS:
                raise bad("'by' needs an operator (>=, >, <=, <) and a number")
            number = rest[2]
            fields["relative"] = number.endswith("%")
            try:
                fields["threshold"] = float(number.removesuffix("%"))
            except ValueError:
                raise bad(f"{number!r} is not a number") from None
            fields["op"] = rest[1]
            rest = rest[3:]
        if rest[:1] == ["using"]:
            if len(rest) != 2:
                raise bad("'using' needs one dataset name")
            fields["data"] = rest[1]
            rest = []
        if rest:
            raise bad(f"unexpected {' '.join(rest)!r}")
        return cls(text=text, alias=alias, metric=metric, **fields)

    @property
    def rule(self) -> str:
        return f"beats: {self.text}"

    @property
    def required(self) -> str:
        unit = "%" if self.relative else ""
        return f"{self.metric} - {self.alias} {self.op} {self.threshold:g}{unit}"

    def _dataset(self, version: ModelVersion) -> dict[str, Any] | None:
        return next((d for d in version.datasets if d.get("name") == self.data), None)

    def _same_data(self, challenger: ModelVersion, champion: ModelVersion) -> str | None:
        """Why the two are not comparable on ``data``, or None when they are."""
        mine, theirs = self._dataset(challenger), self._dataset(champion)
        for version, found in ((challenger, mine), (champion, theirs)):
            if found is None:
                return f"{version.ref} recorded no dataset {self.data!r}"
        if mine["digest"] != theirs["digest"]:
            return (
                f"evaluated on different data: {mine.get('ref')} for {challenger.ref}, "
                f"{theirs.get('ref')} for {champion.ref}"
            )
        return None

    def evaluate(self, ctx: GateContext) -> Check:
        rule = self.rule
        champion = ctx.holder(self.alias)
        if champion is None:
            return Check(
                rule, f"no version holds {self.alias}: nothing to beat", self.required, True
            )
        for version in (ctx.candidate, champion):
            if self.metric not in version.metrics:
                return Check(
                    rule,
                    f"{version.ref} has no metric {self.metric!r} (recorded: "
                    f"{_recorded(version.metrics)})",
                    self.required,
                    False,
                )
        if self.data is not None:
            problem = self._same_data(ctx.candidate, champion)
            if problem:
                return Check(rule, problem, self.required, False)
        mine, theirs = ctx.candidate.metrics[self.metric], champion.metrics[self.metric]
        delta = mine - theirs
        if self.relative:
            if theirs == 0:
                return Check(
                    rule,
                    f"{champion.ref} has {self.metric}=0: no relative change",
                    self.required,
                    False,
                )
            delta = 100 * delta / abs(theirs)
        unit = "%" if self.relative else ""
        observed = f"{_number(mine)} vs {_number(theirs)} ({champion.ref}): {delta:+.6g}{unit}"
        return Check(rule, observed, self.required, OPERATORS[self.op](delta, self.threshold))


@dataclass(frozen=True)
class DataChecksGate:
    """``data_checks: passed``: every dataset the candidate's run read passed its checks."""

    rule = "data_checks: passed"

    def evaluate(self, ctx: GateContext) -> Check:
        rule, required = self.rule, "passed for every input dataset"
        datasets = ctx.candidate.datasets
        if not datasets:
            return Check(
                rule,
                f"{ctx.candidate.ref} recorded no input datasets (snapshot the "
                "training data inside the run)",
                required,
                False,
            )
        try:
            from ..data.checks import data_checks_status
        except ImportError:
            return Check(
                rule, "data checks are not available in this installation", required, False
            )
        notes, ok = [], True
        for dataset in datasets:
            status, summary = data_checks_status(ctx.project, dataset["id"])
            ref = dataset.get("ref") or dataset.get("name")
            if status is None:
                notes.append(f"{ref}: no data check recorded")
            else:
                notes.append(
                    f"{ref}: {'passed' if status else 'failed'}"
                    + (f" ({summary})" if summary else "")
                )
            ok = ok and bool(status)
        return Check(rule, "; ".join(notes), required, ok)


@dataclass(frozen=True)
class ReproducibleGate:
    """``reproducible: true``: the candidate's run was flagged reproducible."""

    rule = "reproducible: true"

    def evaluate(self, ctx: GateContext) -> Check:
        rule, required = self.rule, "its run is reproducible"
        run_id = ctx.candidate.run_id
        if run_id is None:
            return Check(rule, f"{ctx.candidate.ref} was registered outside a run", required, False)
        runs = schema.runs
        row = ctx.conn.execute(
            sa.select(runs.c.reproducible, runs.c.reproducibility_notes).where(
                runs.c.run_id == run_id
            )
        ).first()
        if row is None or row.reproducible is None:
            return Check(
                rule,
                f"run {run_id[:8]} has no reproducibility record (track it with "
                "%mlops track or run it with mlops run)",
                required,
                False,
            )
        if not row.reproducible:
            notes = json.loads(row.reproducibility_notes or "[]")
            why = "; ".join(notes) if notes else "no reason recorded"
            return Check(rule, f"run {run_id[:8]} is not reproducible: {why}", required, False)
        return Check(rule, f"run {run_id[:8]} is reproducible", required, True)


@dataclass(frozen=True)
class ApprovalsGate:
    """``approvals: N``: N distinct people other than the promoter approved this move."""

    count: int

    @property
    def rule(self) -> str:
        return f"approvals: {self.count}"

    def evaluate(self, ctx: GateContext) -> Check:
        table = schema.approvals
        approvers = sorted(
            ctx.conn.execute(
                sa.select(table.c.approver)
                .distinct()
                .where(
                    table.c.name == ctx.candidate.name,
                    table.c.version == ctx.candidate.version,
                    table.c.alias == ctx.alias,
                    table.c.approver != ctx.actor,
                )
            ).scalars()
        )
        observed = f"{len(approvers)}" + (f" ({', '.join(approvers)})" if approvers else "")
        return Check(
            self.rule,
            observed,
            f">= {self.count} approvers other than {ctx.actor}",
            len(approvers) >= self.count,
        )
