"""The ``parameters`` cell: what a notebook accepts, and checking values against it.

A notebook declares its parameters papermill's way: one code cell tagged ``parameters``
holding assignments with defaults, optionally annotated and commented::

    lr: float = 0.1          # learning rate
    depth = 3
    layers = [64, 32]
    api_token = ""           # secret: API_TOKEN

The type of a parameter is its annotation, else the type of its literal default. Values are
checked before any kernel starts: an unknown name or a value of the wrong type is a
:class:`~mlops_nb.errors.UsageError`. Values typed on a command line follow papermill's
``-p`` rules (``True``/``False``/``None``, then int, then float, else text) and are then
converted to the declared type (``-p name 123`` for a text parameter stays ``"123"``;
``-p lr 1`` for a float parameter becomes ``1.0``).

A parameter commented ``# secret`` (or ``# secret: ENV_NAME``) is read from the environment
variable ``ENV_NAME`` (default: the name upper-cased) at run time: the injected cell reads
``os.environ``, so the value never appears in the stored notebook or the run's params.
"""

from __future__ import annotations

import ast
import io
import os
import re
import tokenize
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import UsageError

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
_UNSET: Any = object()
_TYPES = {"int": int, "float": float, "str": str, "bool": bool, "list": list, "dict": dict}
_ALIASES = {
    "List": "list",
    "Dict": "dict",
    "Sequence": "list",
    "Mapping": "dict",
    "tuple": "list",
    "Tuple": "list",
}
_SECRET = re.compile(r"^secret(?::\s*(?P<env>[A-Za-z_][A-Za-z0-9_]*))?\s*(?P<help>.*)$")
_TYPE_COMMENT = re.compile(r"^type:\s*(?P<type>\S+)\s*(?P<help>.*)$")


@dataclass(frozen=True)
class Parameter:
    """One assignment of the parameters cell."""

    name: str
    type: str | None  # int, float, str, bool, list, dict; None accepts any value
    optional: bool  # None is allowed (annotation ``X | None``/``Optional[X]`` or default None)
    default_source: str
    help: str = ""
    secret_env: str | None = None
    default: Any = field(default=_UNSET, compare=False)

    @property
    def has_literal_default(self) -> bool:
        return self.default is not _UNSET

    def describe_type(self) -> str:
        base = self.type or "any"
        return f"{base} | None" if self.optional and self.type else base


@dataclass(frozen=True)
class ParameterCell:
    """The parameters a notebook declares (empty with ``index`` None when it has no cell)."""

    index: int | None
    parameters: dict[str, Parameter]

    def defaults(self) -> dict[str, Any]:
        """Literal defaults of the non-secret parameters (what a run logs when not overridden)."""
        return {
            name: p.default
            for name, p in self.parameters.items()
            if p.has_literal_default and p.secret_env is None
        }

    def secrets(self) -> dict[str, str]:
        return {n: p.secret_env for n, p in self.parameters.items() if p.secret_env}


def cell_source(cell: Mapping[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def cell_tags(cell: Mapping[str, Any]) -> list[str]:
    tags = cell.get("metadata", {}).get("tags", [])
    return tags if isinstance(tags, list) else []


def python_code(source: str) -> str:
    """Cell source with IPython-only lines (magics, shell escapes, help) blanked out."""
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        ipython_only = stripped.startswith(("%", "!")) or stripped.endswith("?")
        lines.append("" if ipython_only else line)
    return "\n".join(lines)


def _comments(source: str) -> dict[int, str]:
    """Trailing comment text by line number (1-based)."""
    found: dict[int, str] = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                found[token.start[0]] = token.string.lstrip("#").strip()
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass
    return found


def _annotation(node: ast.expr | None) -> tuple[str | None, bool]:
    """(base type name or None, None allowed) from an annotation AST."""
    if node is None:
        return None, False
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # "float"
        try:
            return _annotation(ast.parse(node.value, mode="eval").body)
        except SyntaxError:
            return None, False
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        sides = [
            s
            for s in (node.left, node.right)
            if not (isinstance(s, ast.Constant) and s.value is None)
        ]
        return (_annotation(sides[0])[0], True) if len(sides) == 1 else (None, False)
    if isinstance(node, ast.Subscript):
        outer, _ = _annotation(node.value)
        if isinstance(node.value, (ast.Name, ast.Attribute)) and _name(node.value) == "Optional":
            inner, _ = _annotation(node.slice)
            return inner, True
        return outer, False
    name = _name(node)
    name = _ALIASES.get(name, name) if name else None
    return (name if name in _TYPES else None), False


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _literal(node: ast.expr) -> Any:
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _UNSET
    return list(value) if isinstance(value, tuple) else value


def _type_of(value: Any) -> str | None:
    if value is None or value is _UNSET:
        return None
    for name, kind in _TYPES.items():
        if type(value) is kind:
            return name
    return None


def parse_parameters(source: str, where: str = "parameters cell") -> dict[str, Parameter]:
    """The parameters declared by a parameters cell's source."""
    code = python_code(source)
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        raise UsageError(
            f"{where} line {exc.lineno}: cannot parse it ({exc.msg}); fix the cell"
        ) from None
    comments = _comments(code)
    lines = code.splitlines()
    found: dict[str, Parameter] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, annotation, value = node.targets[0], None, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, annotation, value = node.target, node.annotation, node.value
        else:
            continue
        if not isinstance(target, ast.Name):
            continue
        comment = comments.get(node.end_lineno or node.lineno, "")
        secret_env = None
        match = _SECRET.match(comment)
        if match:
            secret_env = match.group("env") or target.id.upper()
            comment = match.group("help")
        type_match = _TYPE_COMMENT.match(comment)
        declared, optional = _annotation(annotation)
        if type_match and declared is None:
            declared, optional = _annotation(ast.parse(type_match.group("type"), mode="eval").body)
            comment = type_match.group("help")
        default = _literal(value)
        kind = declared or _type_of(default)
        text = "\n".join(lines[node.lineno - 1 : node.end_lineno])
        default_source = text.split("=", 1)[1].split("#", 1)[0].strip() if "=" in text else ""
        found[target.id] = Parameter(
            name=target.id,
            type=kind,
            optional=optional or default is None,
            default_source=default_source,
            help=comment.strip(),
            secret_env=secret_env,
            default=default,
        )
    return found


def find_tagged(cells: list[Mapping[str, Any]], tag: str) -> int | None:
    for index, cell in enumerate(cells):
        if tag in cell_tags(cell):
            return index
    return None


def inspect_cells(cells: list[Mapping[str, Any]], where: str) -> ParameterCell:
    """The first ``parameters`` cell of a notebook's cells (papermill: the first one wins)."""
    index = find_tagged(cells, PARAMETERS_TAG)
    if index is None:
        return ParameterCell(None, {})
    return ParameterCell(
        index, parse_parameters(cell_source(cells[index]), f"{where} cell {index}")
    )


# --- values --------------------------------------------------------------------------------


def value_from_text(text: str) -> Any:
    """Type a command-line value the way papermill's ``-p`` does."""
    if text in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[text]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def _yaml_value(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _plain(value: Any, path: str) -> Any:
    """A JSON-like copy of ``value`` (tuples become lists); anything else is refused."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value
    if hasattr(value, "item") and type(value).__module__.startswith("numpy"):
        return _plain(value.item(), path)
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise UsageError(f"parameter {path}: dict keys must be text, got {key!r}")
            out[key] = _plain(item, f"{path}.{key}")
        return out
    raise UsageError(
        f"parameter {path}: a {type(value).__name__} cannot be passed into a notebook; pass "
        "numbers, text, booleans, None, lists or dicts (large objects: a dataset or model ref)"
    )


def coerce(param: Parameter, value: Any, text: str | None = None) -> Any:
    """``value`` converted to ``param``'s type; ``text`` is the raw command-line form if any."""
    kind = param.type
    if value is None and (param.optional or kind is None):
        return None
    if kind is None:
        return _plain(value, param.name)
    if kind == "str":
        if text is not None:
            return text
        if isinstance(value, str):
            return value
    elif kind == "float":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind == "bool":
        if isinstance(value, bool):
            return value
        if text is not None and text.lower() in ("true", "false"):
            return text.lower() == "true"
    elif kind in ("list", "dict"):
        if text is not None:
            value = _yaml_value(text)
        if isinstance(value, tuple):
            value = list(value)
        if isinstance(value, _TYPES[kind]):
            return _plain(value, param.name)
    shown = text if text is not None else repr(value)
    raise UsageError(
        f"parameter {param.name} expects {param.describe_type()} (default "
        f"{param.default_source or 'none'}), got {shown!r:.60}"
    )


def known_parameter(cell: ParameterCell, name: str, where: str) -> Parameter:
    """The declared parameter ``name``; a UsageError when it cannot be set."""
    if cell.index is None:
        raise UsageError(
            f"{where} has no cell tagged 'parameters', so {name} cannot be set; tag the cell "
            "that assigns the defaults with 'parameters'"
        )
    param = cell.parameters.get(name)
    if param is None:
        known = ", ".join(sorted(cell.parameters)) or "none"
        raise UsageError(f"{where} has no parameter {name!r} (it declares: {known})")
    if param.secret_env:
        raise UsageError(
            f"parameter {name} of {where} is secret: set the environment variable "
            f"{param.secret_env} instead of passing a value"
        )
    return param


def check_parameters(
    cell: ParameterCell,
    values: Mapping[str, Any],
    where: str,
    texts: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Validated, typed overrides. Raises one UsageError naming every problem."""
    texts = texts or {}
    problems = []
    checked: dict[str, Any] = {}
    if values and cell.index is None:
        raise UsageError(
            f"{where} has no cell tagged 'parameters', so {', '.join(sorted(values))} cannot be "
            "set; tag the cell that assigns the defaults with 'parameters'"
        )
    for name, value in values.items():
        try:
            param = known_parameter(cell, name, where)
        except UsageError as exc:
            problems.append(str(exc))
            continue
        try:
            checked[name] = coerce(param, value, texts.get(name))
        except UsageError as exc:
            problems.append(f"{where}: {exc}")
    if problems:
        raise UsageError("; ".join(problems))
    return checked


def check_secrets(cell: ParameterCell, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Secret parameter name -> environment variable; each variable must be set."""
    environ = os.environ if environ is None else environ
    secrets = cell.secrets()
    missing = [f"{env} (for {name})" for name, env in secrets.items() if env not in environ]
    if missing:
        raise UsageError(
            f"secret parameters read environment variables that are not set: "
            f"{', '.join(missing)}; export them before running"
        )
    return secrets


def effective_parameters(cell: ParameterCell, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """What a run logs: literal defaults, overrides on top, secrets as ``env:NAME``."""
    values = {**cell.defaults(), **overrides}
    values.update({name: f"env:{env}" for name, env in cell.secrets().items()})
    return values


def describe(cell: ParameterCell) -> list[tuple[str, str, str, str]]:
    """Rows (name, type, default, help) for ``--help-params``."""
    rows = []
    for p in cell.parameters.values():
        default = f"env {p.secret_env}" if p.secret_env else p.default_source
        rows.append((p.name, p.describe_type(), default, p.help))
    return rows
