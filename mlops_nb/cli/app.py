"""The root ``mlops`` group. Sub-commands live in their own modules, imported on demand."""

from __future__ import annotations

import importlib

import click

from .._version import __version__

# command name -> "module:attribute" (relative to mlops_nb.cli)
COMMANDS = {
    "init": "project:init",
    "runs": "runs:runs",
    "data": "data:data",
    "models": "models:models",
    "audit": "audit:audit",
    "run": "pipelines:run",
    "pipeline": "pipelines:pipeline",
    "sweep": "pipelines:sweep",
    "reproduce": "pipelines:reproduce",
    "monitor": "monitor:monitor",
    "demo": "demo:demo",
    "doctor": "project:doctor",
    "gc": "project:gc",
}

HELP = {
    "init": "Create .mlops/ and mlops.yaml here.",
    "runs": "List, show and compare runs.",
    "data": "Dataset snapshots: list, show, diff, snapshot.",
    "models": "Model registry: list, show, promote, approve, history.",
    "audit": "The tamper-evident audit trail: log and verify.",
    "run": "Execute a notebook as a tracked run (papermill).",
    "pipeline": "Run a cached notebook pipeline from YAML.",
    "sweep": "Run a notebook over a parameter grid.",
    "reproduce": "Re-execute a run and compare its metrics.",
    "monitor": "Check production data for drift and decay; trigger retraining.",
    "demo": "Run the example project end to end.",
    "doctor": "Check the store's health and say how to fix problems.",
    "gc": "Remove blobs that nothing references.",
}


class LazyGroup(click.Group):
    """A group whose sub-commands are imported only when used (fast ``--help``)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(f"mlops_nb.cli.{module}"), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, HELP.get(name, "")) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlops")
def cli() -> None:
    """mlops_nb: track, version, promote, pipeline and monitor notebook work.

    Exit codes: 0 ok, 1 a step, gate or check failed, 2 usage error.
    """
