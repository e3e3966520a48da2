"""``%mlops``: one line and cell magic whose subcommands are parsed by IPython's
``magic_arguments``. ``%mlops help`` lists them; ``%mlops SUB --help`` prints one's usage.

A failing subcommand shows ONE line (the error's type and message) and fails the cell, so a
headless run stops there too; it never shows a traceback through this module.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError as IPythonUsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display
from IPython.utils._process_common import arg_split

from ..errors import MlopsError, UsageError
from ..tracking import cell_store, context
from ..tracking.query import resolve_run_id
from . import render
from .args import lookup, parse_assignments, unquote
from .cells import CellCapture, notebook_path, recorded_path

if TYPE_CHECKING:
    from .status import StatusWidget

Command = Callable[..., Any]
COMMANDS: dict[str, Command] = {}


def command(func: Command) -> Command:
    """Register a subcommand (its name is the parser's ``%mlops NAME``)."""
    COMMANDS[func.parser.prog.split()[-1]] = func  # type: ignore[attr-defined]
    return func


def one_line(exc: BaseException, text: str | None = None) -> BaseException:
    """Make IPython show ``exc`` as one red line instead of a traceback."""
    line = f"\x1b[0;31m{type(exc).__name__}\x1b[0m: {text or str(exc) or 'failed'}"
    exc._render_traceback_ = lambda: [line]  # type: ignore[attr-defined]
    return exc


def core_api(part: str, what: str) -> ModuleType:
    """``mlops_nb.<part>.api``, imported when first needed."""
    try:
        return importlib.import_module(f"mlops_nb.{part}.api")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("mlops_nb"):
            raise UsageError(f"{what} are not part of this mlops_nb installation") from None
        raise


def usage(func: Command) -> str:
    """A subcommand's help text (IPython's formatter starts it with a reST ``::``)."""
    return (func.__doc__ or "").removeprefix("::\n\n")


def parse_tags(items: list[str] | None) -> dict[str, str]:
    tags = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"bad --tag {item!r}: expected key=value, e.g. --tag team=risk")
        tags[key] = unquote(value) or ""
    return tags


@magics_class
class MlopsMagics(Magics):
    def __init__(self, shell: Any, capture: CellCapture):
        super().__init__(shell)
        self.capture = capture
        self.status: StatusWidget | None = None

    @no_var_expand
    @line_cell_magic
    def mlops(self, line: str, cell: str | None = None) -> Any:
        """Track runs, log values, snapshot data, register and promote models.

        ``%mlops help`` lists the subcommands; ``%mlops SUB --help`` explains one.
        """
        try:
            return self._dispatch(line, cell)
        except MlopsError as exc:
            raise one_line(exc) from None

    def _dispatch(self, line: str, cell: str | None) -> Any:
        sub, _, rest = line.strip().partition(" ")
        sub = sub or "help"
        func = COMMANDS.get(sub)
        if func is None:
            raise UsageError(
                f"unknown subcommand {sub!r}; use one of: {', '.join(COMMANDS)} (%mlops help)"
            )
        if cell is not None and sub != "track":
            raise UsageError(f"%%mlops {sub} is not a cell magic; only %%mlops track takes a cell")
        try:
            if {"-h", "--help"} & set(arg_split(rest, strict=False)):
                print(usage(func))
                return None
            args = parse_argstring(func, rest)
        except (IPythonUsageError, ValueError) as exc:
            raise UsageError(f"%mlops {sub}: {exc} (see %mlops {sub} --help)") from None
        return func(self, args, cell)

    # -- helpers -------------------------------------------------------------------------

    @property
    def user_ns(self) -> dict[str, Any]:
        return self.shell.user_ns

    def show(self, widget: Any) -> None:
        if render.has_widget_frontend(self.shell):
            display(widget)
        else:
            print(widget.text())

    def show_status(self) -> None:
        if self.status is None:
            from .status import StatusWidget  # ipywidgets: imported when a status is shown

            self.status = StatusWidget(self.capture)
            self.capture.on_change = lambda: self.status.refresh(throttle=True)  # type: ignore[union-attr]
        else:
            self.status.refresh()
        self.show(self.status)

    def require_run(self) -> Any:
        run = context.active_run()
        if run is None:
            raise UsageError("no active run: start one with %mlops track")
        return run

    def resolve(self, ref: str) -> Any:
        """A notebook variable, else a dataset reference like ``train@3`` (left to the core)."""
        if ref.split(".")[0] in self.user_ns:
            return lookup(ref, self.user_ns)
        if ref.isidentifier():
            raise UsageError(
                f"no variable {ref!r} in the notebook (and not a dataset ref like {ref}@1)"
            )
        return ref


# --- subcommands ---------------------------------------------------------------------------


@command
@magic_arguments("mlops track")
@argument("name", nargs="?", help="run name (default: the notebook's file name)")
@argument("-e", "--experiment", help="experiment to file the run under (default: default)")
@argument("--tag", action="append", metavar="K=V", help="a tag; repeat for more")
@argument(
    "--metrics", metavar="A,B", help="cell magic only: variables to log as metrics after the cell"
)
def track(self: MlopsMagics, args: Any, cell: str | None) -> None:
    """Track this notebook as a run (or, as %%mlops track, run the cell as a child run)."""
    if cell is not None:
        return track_cell(self, args, cell)
    if args.metrics:
        raise UsageError("--metrics belongs to %%mlops track (a cell); in a line use %mlops log")
    tags = parse_tags(args.tag)
    capture = self.capture
    if capture.run is not None and capture.run.status != "running":
        capture.finish()  # ended elsewhere, e.g. by mlops.end_run()
    if capture.run is not None:
        run = capture.run
        if not capture.attached:
            here = capture.current_cell()
            if here is None or here != capture.track_cell:
                raise UsageError(
                    f"already tracking run {run.name!r} ({run.run_id[:8]}); %mlops stop it "
                    "first (re-running its own %mlops track cell starts a fresh run)"
                )
            capture.finish(keep_current=False)  # this cell belongs to the new run
            context.end_run("finished", run=run)
            print(f"finished run {run.name!r} ({run.run_id[:8]}); tracking a new run")
    if capture.run is None:
        run = context.active_run()
        if run is not None:  # started by `mlops run`/a pipeline, or by mlops.start_run()
            capture.start(run, attached=os.environ.get(context.ATTACH_ENV) == run.run_id)
        else:
            path = notebook_path(self.shell)
            run = context.start_run(
                unquote(args.name) or (Path(path).stem if path else None),
                experiment=unquote(args.experiment) or "default",
                kind="notebook",
                notebook_path=recorded_path(context.project().root, path),
            )
            capture.start(run, attached=False, track_cell=capture.current_cell())
    if tags:
        context.set_tags(tags)
    self.show_status()


def track_cell(self: MlopsMagics, args: Any, cell: str) -> None:
    """``%%mlops track [NAME] [--metrics a,b]``: the cell as a child run of the tracked run."""
    parent = context.active_run()
    experiment = unquote(args.experiment) or (parent.experiment if parent else "default")
    child = context.start_run(
        unquote(args.name), experiment=experiment, tags=parse_tags(args.tag), kind="cell"
    )
    result = self.shell.run_cell(cell, store_history=False)
    error = result.error_before_exec or result.error_in_exec
    problem: MlopsError | None = None
    if error is None and args.metrics:
        try:
            names = [n.strip() for n in unquote(args.metrics).split(",") if n.strip()]
            context.log_metrics({n.split(".")[-1]: lookup(n, self.user_ns) for n in names})
        except MlopsError as exc:
            problem = exc
    context.end_run("failed" if error or problem else "finished", run=child)
    if self.capture.run is not None:
        cell_store.record_verdict(child.project, child.run_id, *self.capture.flush())
    if error is not None:
        self.capture.fail_current(type(error).__name__)
        raise one_line(error, f"{error} (run {child.name!r} marked failed)") from None
    if problem is not None:
        raise problem


@command
@magic_arguments("mlops stop")
@argument("--status", default="finished", choices=["finished", "failed", "interrupted"])
def stop(self: MlopsMagics, args: Any, cell: str | None) -> None:
    """End the tracked run, save the notebook with it, and say whether it is reproducible."""
    capture = self.capture
    run = capture.run
    if run is None:
        run = self.require_run()
        context.end_run(args.status, run=run)
        print(f"{args.status} run {run.name!r} ({run.run_id[:8]})")
        return
    if capture.attached:
        verdict = capture.flush()
        print(
            f"run {run.name!r} ({run.run_id[:8]}) belongs to the runner that started this "
            f"kernel and ends with the notebook; {render.notes_text(*verdict)}"
        )
        return
    verdict = capture.finish()
    context.end_run(args.status, run=run)
    if self.status is not None:
        self.status.refresh()
    print(f"{args.status} run {run.name!r} ({run.run_id[:8]}): {render.notes_text(*verdict)}")


@command
@magic_arguments("mlops status")
def status(self: MlopsMagics, args: Any, cell: str | None) -> None:
    """Show the tracked run: name, id, status, cells, last metrics, reproducibility."""
    if self.capture.run is not None:
        self.capture.flush()
    elif self.status is None:
        print("not tracking: start with %mlops track")
        return
    self.show_status()


@command
@magic_arguments("mlops save")
def save(self: MlopsMagics, args: Any, cell: str | None) -> None:
    """Write the cell history now and save the notebook file with the run."""
    run = self.capture.run
    if run is None:
        raise UsageError("not tracking: start with %mlops track")
    verdict = self.capture.flush()
    name = self.capture.save_notebook()
    saved = f"saved {name} and" if name else "notebook file unknown; saved"
    print(
        f"{saved} {len(self.capture.records)} cells to run {run.run_id[:8]}; "
        f"{render.notes_text(*verdict)}"
    )


@command
@magic_arguments("mlops param")
@argument("items", nargs="*", metavar="K=V|VAR", help="lr=0.01, model='rf', or a variable name")
def param(self: MlopsMagics, args: Any, cell: str | None) -> None:
    """Log params; a new value for a key keeps the earlier ones in the run's param history."""
    run = self.require_run()
    values = parse_assignments(args.items, self.user_ns)
    before = run.params
    context.log_params(values)
    for key, value in values.items():
        if key in before and before[key] != value:
            print(f"{key}: {before[key]!r} -> {value!r} (earlier values stay in param_history)")


@command
@magic_arguments("mlops log")
@argument("items", nargs="*", metavar="K=V|VAR", help="auc=0.91 or a variable name (acc)")
@argument("--step", type=int, help="the step of these points (default: the next step)")
def log(self: MlopsMagics, args: Any, cell: str | None) -> None:
    """Log metrics (numbers), from literals or notebook variables."""
    self.require_run()
    context.log_metrics(parse_assignments(args.items, self.user_ns), step=args.step)


@command
@magic_arguments("mlops snapshot")
@argument("var", help="a DataFrame variable or a file path variable")
@argument("--name", help="dataset name (default: the variable's name)")
def snapshot(self: MlopsMagics, args: Any, cell: str | None) -> Any:
    """Snapshot a dataset (same content -> same version); returns the DatasetVersion."""
    data = core_api("data", "data snapshots")
    return data.snapshot(
        lookup(args.var, self.user_ns), unquote(args.name) or args.var.split(".")[-1]
    )


@command
@magic_arguments("mlops register")
@argument("var", help="the model variable")
@argument("--name", help="model name (default: the variable's name)")
@argument("--trusted", action="store_true", help="allow a pickle for non-scikit-learn objects")
def register(self: MlopsMagics, args: Any, cell: str | None) -> Any:
    """Register a model as a new version, linked to the tracked run; returns it."""
    registry = core_api("registry", "the model registry")
    return registry.register_model(
        lookup(args.var, self.user_ns),
        unquote(args.name) or args.var.split(".")[-1],
        trusted=args.trusted,
    )


@command
@magic_arguments("mlops promote")
@argument("ref", metavar="NAME[@V]", help="model and version (default: the latest version)")
@argument("--to", required=True, help="alias to move, e.g. production")
@argument("--reason", required=True, help='why, e.g. "beats champion on Q3 data"')
def promote(self: MlopsMagics, args: Any, cell: str | None) -> Any:
    """Promote a model version (NAME@3, NAME@staging, NAME = latest) through the gates."""
    registry = core_api("registry", "the model registry")
    ref = args.ref
    if "@" not in ref:  # the latest version
        ref = f"{ref}@{int(registry.models(ref)['version'].max())}"
    try:
        return registry.promote(ref, to=unquote(args.to), reason=unquote(args.reason))
    except registry.PromotionRejected as exc:
        display(exc.result)  # every check, the failing ones marked; then the one-line error
        raise


@command
@magic_arguments("mlops drift")
@argument("ref", help="reference data: a variable or a dataset ref like train@3")
@argument("var", help="current data: a variable or a dataset ref")
def drift(self: MlopsMagics, args: Any, cell: str | None) -> Any:
    """Test each column for drift between reference and current data; returns the report."""
    monitor = core_api("monitor", "drift checks")
    return monitor.detect_drift(self.resolve(args.ref), self.resolve(args.var))


@command
@magic_arguments("mlops runs")
@argument("-e", "--experiment", help="only this experiment")
@argument("--filter", help="e.g. \"metrics.auc > 0.8 and params.model == 'rf'\"")
@argument("--limit", type=int, default=20, help="rows per page (default 20)")
def runs(self: MlopsMagics, args: Any, cell: str | None) -> None:
    """The runs table: filter, sort, page, tick runs to compare them."""
    from .widgets.runs import RunsTable

    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    self.show(
        RunsTable(
            context.project(), unquote(args.experiment), unquote(args.filter), page_size=args.limit
        )
    )


@command
@magic_arguments("mlops compare")
@argument("run_ids", nargs="+", metavar="RUN", help="two or more run ids (or unique prefixes)")
def compare(self: MlopsMagics, args: Any, cell: str | None) -> None:
    """Params and metrics side by side, metric curves, the best run highlighted."""
    from .widgets.compare import Comparison

    if len(args.run_ids) < 2:
        raise UsageError("compare needs two or more runs, e.g. %mlops compare 3f2a9c 77b0e1")
    project = context.project()
    self.show(Comparison(project, [resolve_run_id(project, r) for r in args.run_ids]))


@command
@magic_arguments("mlops models")
@argument("name", nargs="?", help="only this model")
def models(self: MlopsMagics, args: Any, cell: str | None) -> None:
    """Registered models: versions, aliases, metrics, and a Promote button."""
    from .widgets.models import ModelsView

    self.show(ModelsView(core_api("registry", "the model registry"), args.name))


@command
@magic_arguments("mlops data")
@argument("name", nargs="?", help="only this dataset")
def data(self: MlopsMagics, args: Any, cell: str | None) -> None:
    """Dataset versions: schema, profile, and the diff of two versions."""
    from .widgets.data import DataView

    self.show(DataView(core_api("data", "data snapshots"), args.name))


@command
@magic_arguments("mlops help")
@argument("topic", nargs="?", help="a subcommand")
def help(self: MlopsMagics, args: Any, cell: str | None) -> None:
    """List the subcommands (or explain one)."""
    if args.topic:
        func = COMMANDS.get(args.topic)
        if func is None:
            raise UsageError(f"unknown subcommand {args.topic!r}; see %mlops help")
        print(usage(func))
        return
    width = max(map(len, COMMANDS))
    lines = [
        f"  %mlops {name.ljust(width)}  {func.parser.description.splitlines()[0]}"
        for name, func in COMMANDS.items()
    ]
    print("\n".join(["usage: %mlops SUBCOMMAND ...  (%mlops SUBCOMMAND --help)", *lines]))
