"""Pipeline files: load, validate fully (with line numbers), before anything runs.

```yaml
name: churn                     # optional (default: the file name)
experiment: churn               # optional (default: "default")
vars: {lr: 0.1}
steps:
  prepare:
    notebook: 01_prepare.ipynb  # paths are relative to this file
    inputs: [data/raw.csv, {dataset: reference}]
    outputs: [data/clean.csv, {dataset: train}]
  train:
    notebook: 02_train.ipynb
    needs: [prepare]
    parameters: {lr: "${vars.lr}", data: "${steps.prepare.outputs.train}"}
    outputs: [{model: churn}]
    gate: ["metrics.auc >= 0.8"]
    timeout: 600                # seconds per cell
    kernel: python3
  tune:
    notebook: 02_train.ipynb
    grid: {model: [logreg, forest], C: [0.5, 1.0]}   # one run per combination
    select: metrics.auc         # the best point is the step's result (":asc" for lowest)
```

Inputs are files or folders, or dataset references (anything with ``@``, like
``train@latest``, or ``{dataset: NAME}``). Outputs are files or folders, ``{dataset: NAME}``
or ``{model: NAME}``. A step also depends on the steps its parameters reference and on the
steps producing its inputs, without listing them in ``needs``. Gates are conditions on the
step run's ``metrics.*``/``params.*`` or ``{data_checks: passed}`` (the datasets the step
produced passed their checks). A step with a ``grid:`` runs once per combination of values
(each point cached on its own, in parallel with ``--jobs``); ``select:`` names the metric
that picks the point whose outputs and metrics later steps see and the gates judge.
"""

from __future__ import annotations

import graphlib
import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..conditions import Condition, parse_condition
from ..errors import UsageError
from ..names import check_name
from . import dag, refs
from .grid import expand_grid, parse_sort
from .notebooks import NotebookSource, load_notebook
from .parameters import check_parameters, known_parameter

TOP_KEYS = ("name", "experiment", "description", "vars", "steps")
STEP_KEYS = (
    "notebook",
    "description",
    "parameters",
    "needs",
    "inputs",
    "outputs",
    "gate",
    "timeout",
    "kernel",
    "grid",
    "select",
)


@dataclass(frozen=True)
class InputDecl:
    kind: str  # file or dataset
    value: str  # path relative to the pipeline folder, or a dataset reference
    line: int

    @property
    def dataset_name(self) -> str:
        return self.value.split("@", 1)[0]


@dataclass(frozen=True)
class OutputDecl:
    kind: str  # file, dataset or model
    name: str  # path relative to the pipeline folder, or a dataset/model name
    line: int


@dataclass(frozen=True)
class GateDecl:
    text: str
    line: int
    condition: Condition | None = None
    data_checks: bool = False  # the step's dataset outputs must pass their data checks


@dataclass
class StepSpec:
    name: str
    notebook: NotebookSource
    line: int
    parameters: dict[str, Any] = field(default_factory=dict)
    needs: list[str] = field(default_factory=list)  # declared and implied, deduplicated
    inputs: list[InputDecl] = field(default_factory=list)
    outputs: list[OutputDecl] = field(default_factory=list)
    gates: list[GateDecl] = field(default_factory=list)
    timeout: float | None = None
    kernel: str | None = None
    points: list[dict[str, Any]] = field(default_factory=list)  # the grid, one dict per point
    select: tuple[str, bool] | None = None  # (metrics.NAME or params.NAME, ascending)

    def output(self, key: str) -> OutputDecl | None:
        return next((o for o in self.outputs if o.name == key), None)


@dataclass
class PipelineSpec:
    path: Path
    name: str
    experiment: str
    vars: dict[str, Any]
    steps: dict[str, StepSpec]
    order: list[str]

    @property
    def folder(self) -> Path:
        return self.path.parent

    def needs(self) -> dict[str, list[str]]:
        return {name: step.needs for name, step in self.steps.items()}


# --- YAML with line numbers ----------------------------------------------------------------


def _loader_class() -> type:
    import yaml

    class Loader(yaml.SafeLoader):
        """Safe YAML where dates stay text (like papermill's parameter files)."""

    Loader.yaml_implicit_resolvers = {
        key: [r for r in resolvers if r[0] != "tag:yaml.org,2002:timestamp"]
        for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return Loader


class _Doc:
    """A parsed YAML document and the line (1-based) of every key path in it."""

    def __init__(self, path: Path):
        import yaml

        self.path = path
        self.lines: dict[tuple[Any, ...], int] = {}
        self.errors: list[str] = []
        self._indexed: set[int] = set()  # each node once: aliases may repeat or nest nodes
        self._open: set[int] = set()  # nodes being indexed: meeting one again is a cycle
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UsageError(f"pipeline file {path} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read pipeline file {path}: {exc}") from None
        loader = None
        try:
            loader = _loader_class()(text)
            node = loader.get_single_node()
            if node is not None:
                self._index(node, ())
            self.data = loader.construct_document(node) if node is not None else None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise UsageError(f"{path}{where}: invalid YAML ({problem}); fix the file") from None
        finally:
            if loader is not None:
                loader.dispose()
        if self.errors:
            raise UsageError("\n".join(self.errors))

    def _index(self, node: Any, path: tuple[Any, ...]) -> None:

        self.lines.setdefault(path, node.start_mark.line + 1)
        if id(node) in self._open:
            raise UsageError(
                f"{self.path} line {node.start_mark.line + 1}: a YAML alias refers to itself; "
                "remove the recursive '*' reference"
            )
        if id(node) in self._indexed:
            return
        self._indexed.add(id(node))
        self._open.add(id(node))
        try:
            self._index_children(node, path)
        finally:
            self._open.discard(id(node))

    def _index_children(self, node: Any, path: tuple[Any, ...]) -> None:
        import yaml

        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key, value in node.value:
                name = key.value if isinstance(key, yaml.ScalarNode) else None
                if name in seen:
                    self.errors.append(
                        f"{self.path} line {key.start_mark.line + 1}: {name!r} is given twice"
                    )
                seen.add(name)
                self._index(value, (*path, name))
                self.lines[(*path, name)] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self._index(item, (*path, index))

    def line(self, *path: Any) -> int:
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)


# --- validation ----------------------------------------------------------------------------


class _Checker:
    def __init__(self, doc: _Doc):
        self.doc = doc
        self.problems: list[tuple[int, str]] = []

    def error(self, path: tuple[Any, ...], message: str) -> None:
        self.problems.append((self.doc.line(*path), message))

    def raise_if_any(self) -> None:
        if self.problems:
            lines = [f"{self.doc.path} line {line}: {msg}" for line, msg in sorted(self.problems)]
            raise UsageError("\n".join(lines))

    def keys(self, value: dict, allowed: tuple[str, ...], path: tuple[Any, ...], what: str) -> None:
        for key in value:
            if key not in allowed:
                self.error(
                    (*path, key),
                    f"unknown {what} key {key!r}"
                    f"{dag.suggest(str(key), allowed)}; allowed: {', '.join(allowed)}",
                )

    def names(self, value: Any, path: tuple[Any, ...]) -> list[str]:
        if value is None:
            return []
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
            self.error(path, "needs must be a step name or a list of step names")
            return []
        return items


def load_pipeline(path: str | Path) -> PipelineSpec:
    """Parse and validate a pipeline file; every problem is reported with its line."""
    path = Path(path).resolve()
    doc = _Doc(path)
    check = _Checker(doc)
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("steps"), dict) or not data["steps"]:
        raise UsageError(
            f"{path} line {doc.line('steps')}: a pipeline needs 'steps:', a mapping of step "
            "name to step (notebook:, parameters:, needs:, ...)"
        )
    check.keys(data, TOP_KEYS, (), "pipeline")
    variables = data.get("vars") or {}
    if not isinstance(variables, dict):
        check.error(("vars",), "vars must be a mapping of name to value")
        variables = {}
    steps: dict[str, StepSpec] = {}
    for name, body in data["steps"].items():
        step = _step(check, path.parent, str(name), body)
        if step is not None:
            steps[step.name] = step
    _link(check, steps, variables, declared={str(n) for n in data["steps"]})
    check.raise_if_any()
    try:
        order = dag.topological_order({n: s.needs for n, s in steps.items()})
    except graphlib.CycleError as exc:
        cycle = exc.args[1]
        if cycle[1] not in steps[cycle[0]].needs:
            cycle = cycle[::-1]
        chain = ", ".join(f"{a} needs {b}" for a, b in itertools.pairwise(cycle))
        raise UsageError(
            f"{path} line {doc.line('steps', cycle[0], 'needs')}: steps form a cycle "
            f"({chain}); remove one of these dependencies"
        ) from None
    experiment = data.get("experiment") or "default"
    return PipelineSpec(
        path, str(data.get("name") or path.stem), str(experiment), variables, steps, order
    )


def _step(check: _Checker, folder: Path, name: str, body: Any) -> StepSpec | None:
    where = ("steps", name)
    try:
        check_name(name, "step name")
    except UsageError as exc:
        check.error(where, str(exc))
    if isinstance(body, str):
        body = {"notebook": body}
    if not isinstance(body, dict) or "notebook" not in body:
        check.error(where, f"step {name!r} needs a notebook: (the .ipynb it runs)")
        return None
    check.keys(body, STEP_KEYS, where, "step")
    notebook_path = body["notebook"]
    if not isinstance(notebook_path, str):
        check.error((*where, "notebook"), "notebook must be a path")
        return None
    try:
        source = load_notebook(folder / notebook_path)
    except UsageError as exc:
        check.error((*where, "notebook"), f"step {name!r}: {exc}")
        return None
    step = StepSpec(name=name, notebook=source, line=check.doc.line(*where))
    step.needs = check.names(body.get("needs"), (*where, "needs"))
    step.parameters = _parameters(check, step, body.get("parameters"), where)
    step.inputs = _inputs(check, folder, body.get("inputs"), (*where, "inputs"))
    step.outputs = _outputs(check, body.get("outputs"), (*where, "outputs"))
    step.gates = _gates(check, body.get("gate"), (*where, "gate"))
    _grid(check, step, body.get("grid"), body.get("select"), where)
    timeout = body.get("timeout")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0
    ):
        check.error((*where, "timeout"), "timeout must be a positive number of seconds per cell")
    step.timeout = float(timeout) if isinstance(timeout, (int, float)) else None
    kernel = body.get("kernel")
    if kernel is not None and not isinstance(kernel, str):
        check.error((*where, "kernel"), "kernel must be a kernel name like python3")
    step.kernel = kernel
    return step


def _parameters(
    check: _Checker, step: StepSpec, value: Any, where: tuple[Any, ...]
) -> dict[str, Any]:
    if value is None:
        return {}
    path = (*where, "parameters")
    if not isinstance(value, dict):
        check.error(path, "parameters must be a mapping of name to value")
        return {}
    cell = step.notebook.parameters
    for key, item in value.items():
        try:
            has_refs = any(True for _ in refs.refs_in(item))
        except refs.RefError as exc:
            check.error((*path, key), str(exc))
            continue
        try:
            if has_refs:  # typed when the reference resolves, at run time
                known_parameter(cell, str(key), step.notebook.path.name)
            else:
                check_parameters(cell, {key: item}, step.notebook.path.name)
        except UsageError as exc:
            check.error((*path, key), str(exc))
    return dict(value)


def _grid(check: _Checker, step: StepSpec, grid: Any, select: Any, where: tuple[Any, ...]) -> None:
    """``grid:`` runs the notebook once per combination; ``select:`` picks the point whose
    outputs and metrics the step passes on (and its gates judge)."""
    if grid is None:
        if select is not None:
            check.error((*where, "select"), "select: needs a grid: to select from")
        return
    path = (*where, "grid")
    if not isinstance(grid, dict):
        check.error(path, "grid must map parameter names to lists of values")
        return
    for name in grid:
        if name in step.parameters:
            check.error((*path, name), f"{name} is set both in parameters and in grid; keep one")
    try:
        step.points = expand_grid(step.notebook, grid)
    except UsageError as exc:
        check.error(path, str(exc))
    try:
        step.select = parse_sort(select)
    except UsageError as exc:
        check.error((*where, "select"), str(exc))
    if step.select is None:
        check.error(
            path,
            "a step with a grid needs select: (e.g. 'select: metrics.auc') to "
            "pick the point that later steps use",
        )


def _inputs(check: _Checker, folder: Path, value: Any, path: tuple[Any, ...]) -> list[InputDecl]:
    found = []
    for index, item in enumerate(_as_list(check, value, path, "inputs")):
        line = check.doc.line(*path, index)
        if isinstance(item, dict) and set(item) == {"dataset"} and isinstance(item["dataset"], str):
            ref = item["dataset"] if "@" in item["dataset"] else f"{item['dataset']}@latest"
            found.append(InputDecl("dataset", ref, line))
        elif isinstance(item, str) and "@" in item:
            found.append(InputDecl("dataset", item, line))
        elif isinstance(item, str):
            if not (folder / item).exists():
                check.error(
                    (*path, index),
                    f"input {item!r} does not exist (paths are relative to {folder})",
                )
            found.append(InputDecl("file", item, line))
        else:
            check.error(
                (*path, index),
                "an input is a path, a dataset ref like 'train@latest' or {dataset: NAME}",
            )
    return found


def _outputs(check: _Checker, value: Any, path: tuple[Any, ...]) -> list[OutputDecl]:
    found = []
    for index, item in enumerate(_as_list(check, value, path, "outputs")):
        line = check.doc.line(*path, index)
        if isinstance(item, str):
            found.append(OutputDecl("file", item, line))
        elif (
            isinstance(item, dict)
            and len(item) == 1
            and next(iter(item)) in ("dataset", "model", "file")
            and isinstance(next(iter(item.values())), str)
        ):
            kind, name = next(iter(item.items()))
            if kind != "file":
                try:
                    check_name(name, f"{kind} name")
                except UsageError as exc:
                    check.error((*path, index), str(exc))
            found.append(OutputDecl(kind, name, line))
        else:
            check.error((*path, index), "an output is a path, {dataset: NAME} or {model: NAME}")
    return found


def _gates(check: _Checker, value: Any, path: tuple[Any, ...]) -> list[GateDecl]:
    found = []
    for index, item in enumerate(_as_list(check, value, path, "gate")):
        line = check.doc.line(*path, index)
        if isinstance(item, dict) and set(item) == {"data_checks"}:
            if item["data_checks"] != "passed":
                check.error((*path, index), "a data checks gate reads 'data_checks: passed'")
            found.append(GateDecl("data_checks: passed", line, data_checks=True))
            continue
        try:
            condition = parse_condition(item, f"gate {item!r}")
        except UsageError as exc:
            check.error((*path, index), str(exc))
            continue
        found.append(GateDecl(str(item), line, condition=condition))
    return found


def _as_list(check: _Checker, value: Any, path: tuple[Any, ...], what: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (str, dict)):
        return [value]
    if isinstance(value, list):
        return value
    check.error(path, f"{what} must be a list")
    return []


def _link(
    check: _Checker, steps: dict[str, StepSpec], variables: dict[str, Any], declared: set[str]
) -> None:
    """Check needs and references; add the dependencies that references and inputs imply.
    Steps in ``declared`` that failed their own checks are not reported again here."""
    producers: dict[tuple[str, str], str] = {}
    for step in steps.values():
        for out in step.outputs:
            key = (out.kind, _key(out.kind, out.name))
            if key in producers:
                check.error(
                    ("steps", step.name, "outputs"),
                    f"{out.kind} {out.name!r} is also an output of step "
                    f"{producers[key]!r}; each output has one producer",
                )
            producers[key] = step.name
    for step in steps.values():
        where = ("steps", step.name)
        step.needs = [n for n in step.needs if n in steps or n not in declared]
        for need in step.needs:
            if need not in steps:
                check.error(
                    (*where, "needs"),
                    f"step {step.name!r} needs {need!r}, which is not "
                    f"a step{dag.suggest(need, steps)}",
                )
            elif need == step.name:
                check.error((*where, "needs"), f"step {step.name!r} cannot need itself")
        implied = []
        for inp in step.inputs:
            kind = "dataset" if inp.kind == "dataset" else "file"
            name = inp.dataset_name if kind == "dataset" else _key("file", inp.value)
            producer = producers.get((kind, name))
            if producer and producer != step.name:
                implied.append(producer)
        for key, value in step.parameters.items():
            try:
                found = list(refs.refs_in(value))
            except refs.RefError:  # reported with the step's parameters
                continue
            for ref in found:
                if ref.scope == "steps" and ref.step in declared - set(steps):
                    continue
                problem = _check_ref(ref, step, steps, variables)
                if problem:
                    check.error((*where, "parameters", key), f"parameter {key}: {problem}")
                elif ref.scope == "steps":
                    implied.append(ref.step)
        step.needs = list(dict.fromkeys([*step.needs, *implied]))


def _check_ref(
    ref: refs.Ref, step: StepSpec, steps: dict[str, StepSpec], variables: dict[str, Any]
) -> str | None:
    if ref.scope == "vars":
        if ref.name not in variables:
            return (
                f"${{{ref.text}}}: no var {ref.name!r}{dag.suggest(ref.name, variables)}; "
                "define it under vars:"
            )
        return None
    if ref.scope == "inputs":
        names = [i.dataset_name for i in step.inputs if i.kind == "dataset"]
        if ref.name not in names:
            return f"${{{ref.text}}}: step {step.name!r} has no dataset input {ref.name!r}"
        return None
    if ref.step not in steps or ref.step == step.name:
        return f"${{{ref.text}}}: {ref.step!r} is not another step{dag.suggest(ref.step, steps)}"
    if ref.field == "outputs" and steps[ref.step].output(ref.name) is None:
        declared = ", ".join(o.name for o in steps[ref.step].outputs) or "none"
        return (
            f"${{{ref.text}}}: step {ref.step!r} declares no output {ref.name!r} "
            f"(its outputs: {declared})"
        )
    return None


def _key(kind: str, name: str) -> str:
    return os.path.normpath(name) if kind == "file" else name
