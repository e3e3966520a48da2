"""The reference docs keep up with the code: every command, option, magic and config section
that exists is documented, and every relative link points at a file that exists."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
README = DOCS.parent / "example_notebooks" / "README.md"


def _commands():
    from mlops_nb.cli.app import cli

    def walk(command, ctx, path):
        yield path, command
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                yield from walk(sub, click.Context(sub, info_name=name, parent=ctx), [*path, name])

    yield from walk(cli, click.Context(cli, info_name="mlops"), ["mlops"])


def test_every_command_and_option_is_in_the_cli_reference():
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    missing = []
    for path, command in _commands():
        if len(path) > 1 and " ".join(path) not in text:
            missing.append(" ".join(path))
        for param in command.params:
            if isinstance(param, click.Option):
                names = [o for o in param.opts if o.startswith("--")] or param.opts
                if names[0] not in ("--help", "--version") and names[0] not in text:
                    missing.append(f"{' '.join(path)} {names[0]}")
    assert not missing, f"undocumented in docs/cli.md: {missing}"


def test_every_magic_and_its_options_are_in_the_magics_reference():
    from mlops_nb.notebook.magics import COMMANDS

    text = (DOCS / "magics.md").read_text(encoding="utf-8")
    missing = []
    for name, func in COMMANDS.items():
        if f"%mlops {name}" not in text:
            missing.append(name)
        for action in func.parser._actions:
            long = [o for o in action.option_strings if o.startswith("--")]
            if long and long[0] != "--help" and long[0] not in text:
                missing.append(f"{name} {long[0]}")
    assert not missing, f"undocumented in docs/magics.md: {missing}"


def test_every_config_section_is_in_the_config_reference():
    from dataclasses import fields

    from mlops_nb.data.checks import COLUMN_RULES, FRAME_RULES
    from mlops_nb.monitor.settings import Settings
    from mlops_nb.registry.hooks import EVENTS
    from mlops_nb.registry.policy import POLICY_KEYS, RULE_KEYS

    text = (DOCS / "config.md").read_text(encoding="utf-8")
    monitor = [{"metric_tolerance": "metrics"}.get(f.name, f.name) for f in fields(Settings)]
    keys = ["store:", "uri:", "artifacts:", "checks:", "promotion:", "hooks:", "monitor:"]
    keys += [f"{k}:" for k in (*RULE_KEYS, *POLICY_KEYS, *FRAME_RULES, *COLUMN_RULES, *monitor)]
    keys += [f"on_{event}" for event in EVENTS]
    assert not [k for k in keys if k not in text]


def test_every_pipeline_key_is_in_the_pipelines_reference():
    from mlops_nb.pipelines.spec import STEP_KEYS, TOP_KEYS

    text = (DOCS / "pipelines.md").read_text(encoding="utf-8")
    assert not [key for key in (*TOP_KEYS, *STEP_KEYS) if f"{key}:" not in text]


@pytest.mark.parametrize("page", [*sorted(p.name for p in DOCS.glob("*.md")), "README"])
def test_relative_links_resolve(page):
    path = README if page == "README" else DOCS / page
    text = path.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
        assert (path.parent / target).exists(), f"{page}: broken link to {target}"


def test_every_api_name_the_docs_and_notebooks_use_exists():
    import mlops_nb

    sources = [p.read_text(encoding="utf-8") for p in [*DOCS.glob("*.md"), README]]
    sources += [p.read_text(encoding="utf-8") for p in README.parent.glob("*.ipynb")]
    used = {name for text in sources for name in re.findall(r"\bmlops\.([a-z_]+)\(", text)}
    assert used, "no API calls found: the pattern is wrong"
    assert not sorted(n for n in used if not hasattr(mlops_nb, n))
