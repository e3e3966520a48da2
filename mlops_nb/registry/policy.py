"""Promotion policies from ``mlops.yaml``.

Syntax (every key optional; an alias without an entry has no policy, so promoting to it is
allowed without gates and the result says so)::

    promotion:
      staging:
        require:
          - metrics.auc >= 0.80            # a condition on the version's metrics
      production:
        require:
          - from: staging                  # the version must hold 'staging' now
          - metrics.auc >= 0.85 and metrics.recall >= 0.6
          - beats: production on auc by >= 0.01             # vs the current holder
          - beats: production on rmse by <= -2% using holdout   # lower is better, relative,
                                                                # same 'holdout' data version
          - data_checks: passed            # every dataset its run read passed its checks
          - reproducible: true             # its run was flagged reproducible
        approvals: 2                       # distinct approvers other than the promoter

Rules:

- A plain string is a condition over ``metrics.NAME`` (``and``, ``or``, ``not``, comparisons,
  arithmetic). A metric the version lacks fails that check; it does not raise.
- ``beats: ALIAS on METRIC [by OP NUMBER[%]] [using DATASET]`` with OP one of ``>= > <= <``
  compares ``challenger - champion`` (in percent of the champion with ``%``); without
  ``by`` it means ``by > 0``. It passes when no version holds ALIAS yet.
- ``approvals: N`` (also accepted as a ``require`` item) counts distinct people who ran
  ``approve(name, version, to=ALIAS)``, not counting whoever promotes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import CONFIG_FILE, section
from ..errors import UsageError
from .aliases import check_alias
from .gates import (
    ApprovalsGate,
    BeatsGate,
    DataChecksGate,
    FromGate,
    MetricGate,
    ReproducibleGate,
)

POLICY_KEYS = ("require", "approvals")
RULE_KEYS = ("from", "beats", "data_checks", "reproducible", "approvals")


@dataclass(frozen=True)
class Policy:
    alias: str
    gates: tuple[Any, ...]


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UsageError(f"{where}: approvals must be a whole number >= 0, got {value!r}")
    return value


def _expect(value: Any, wanted: Any, where: str, key: str) -> None:
    if value != wanted:
        raise UsageError(f"{where}: '{key}' only takes {wanted!r}, got {value!r}")


def parse_rule(item: Any, where: str) -> Any:
    """One ``require`` entry -> a gate."""
    if isinstance(item, str):
        key, colon, value = item.partition(":")
        if not (colon and key.strip() in RULE_KEYS):
            return MetricGate.parse(item, where)
        import yaml  # a quoted "beats: ..." reads as a string in YAML: accept it as the rule

        item = {key.strip(): yaml.safe_load(value) if value.strip() else None}
    if not isinstance(item, dict) or len(item) != 1:
        raise UsageError(
            f"{where}: each rule is a condition string or a one-key mapping "
            f"({', '.join(RULE_KEYS)}), got {item!r}"
        )
    ((key, value),) = item.items()
    if key == "from":
        try:
            return FromGate(check_alias(value))
        except UsageError as exc:
            raise UsageError(f"{where}: from: {exc}") from None
    if key == "beats":
        return BeatsGate.parse(value, where)
    if key == "data_checks":
        _expect(value, "passed", where, key)
        return DataChecksGate()
    if key == "reproducible":
        _expect(value, True, where, key)
        return ReproducibleGate()
    if key == "approvals":
        return ApprovalsGate(_count(value, where))
    raise UsageError(f"{where}: unknown rule {key!r}; use one of {', '.join(RULE_KEYS)}")


def parse_policy(alias: str, entry: Any) -> Policy:
    where = f"{CONFIG_FILE} promotion.{alias}"
    if not isinstance(entry, dict):
        raise UsageError(f"{where} must be a mapping with 'require' and/or 'approvals'")
    unknown = sorted(set(entry) - set(POLICY_KEYS))
    if unknown:
        raise UsageError(f"{where}: unknown key {unknown[0]!r}; use {' or '.join(POLICY_KEYS)}")
    require = entry.get("require") or []
    if not isinstance(require, list):
        raise UsageError(f"{where}.require must be a list of rules")
    gates = [parse_rule(item, f"{where}.require[{i}]") for i, item in enumerate(require)]
    approvals = _count(entry.get("approvals", 0), f"{where}.approvals")
    if approvals:
        gates.append(ApprovalsGate(approvals))
    return Policy(alias, tuple(gates))


def policy_for(config: dict[str, Any], alias: str) -> Policy | None:
    """The policy for promotions to ``alias``, or None when ``mlops.yaml`` sets none."""
    entry = section(config, "promotion").get(alias)
    return None if entry is None else parse_policy(alias, entry)
