"""The step graph: order, cycles, ancestors and descendants, and ``--only``/``--from``."""

from __future__ import annotations

import difflib
import graphlib
from collections.abc import Iterable, Mapping, Sequence

from ..errors import UsageError


def topological_order(needs: Mapping[str, Iterable[str]]) -> list[str]:
    """Steps so that each comes after what it needs (ties keep declaration order).

    Raises ``graphlib.CycleError`` whose ``args[1]`` is the cycle (first node repeated)."""
    sorter = graphlib.TopologicalSorter({name: list(deps) for name, deps in needs.items()})
    sorter.prepare()
    position = {name: i for i, name in enumerate(needs)}
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=position.__getitem__)
        order.extend(ready)
        sorter.done(*ready)
    return order


def ancestors(needs: Mapping[str, Iterable[str]], name: str) -> set[str]:
    found: set[str] = set()
    stack = list(needs[name])
    while stack:
        step = stack.pop()
        if step not in found:
            found.add(step)
            stack.extend(needs[step])
    return found


def descendants(needs: Mapping[str, Iterable[str]], name: str) -> set[str]:
    found: set[str] = set()
    frontier = {name}
    while frontier:
        frontier = {s for s, deps in needs.items() if set(deps) & frontier} - found
        found |= frontier
    return found


def suggest(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_step_names(names: Sequence[str], steps: Iterable[str], option: str) -> None:
    steps = list(steps)
    for name in names:
        if name not in steps:
            raise UsageError(
                f"{option} {name!r} is not a step of this pipeline{suggest(name, steps)}; "
                f"steps: {', '.join(steps)}"
            )


def select(
    needs: Mapping[str, Iterable[str]], only: Sequence[str] = (), from_: str | None = None
) -> set[str]:
    """The steps to consider running: all, the ``only`` ones, or ``from_`` and downstream."""
    if only and from_:
        raise UsageError("use either --only or --from, not both")
    if only:
        check_step_names(only, needs, "--only")
        return set(only)
    if from_:
        check_step_names([from_], needs, "--from")
        return {from_} | descendants(needs, from_)
    return set(needs)
