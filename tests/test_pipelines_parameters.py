"""The parameters cell: parsing, papermill-style typing, validation (no kernel needed)."""

from __future__ import annotations

import json
import math
import os

import pytest
from test_pipelines_support import mlops, write_notebook

from mlops_nb.errors import UsageError
from mlops_nb.pipelines.notebooks import load_notebook
from mlops_nb.pipelines.parameters import (
    check_parameters,
    check_secrets,
    effective_parameters,
    parse_parameters,
    value_from_text,
)

CELL = """\
lr: float = 0.1          # learning rate
depth = 3
name = "rf"
layers = [64, 32]
options: dict = {"a": 1}
seed: int | None = None
flag = True
twice = depth * 2        # derived: not a literal
api_token = ""           # secret: API_TOKEN the service token
%matplotlib inline
"""


@pytest.fixture
def notebook(project):
    path = write_notebook(project.root / "nb.ipynb", CELL, "print(lr)")
    return load_notebook(path)


def test_parameters_cell_is_parsed_with_types_defaults_and_help(notebook):
    params = notebook.parameters.parameters
    assert list(params) == [
        "lr",
        "depth",
        "name",
        "layers",
        "options",
        "seed",
        "flag",
        "twice",
        "api_token",
    ]
    assert params["lr"].type == "float" and params["lr"].help == "learning rate"
    assert params["depth"].type == "int" and params["depth"].default == 3
    assert params["layers"].type == "list" and params["layers"].default == [64, 32]
    assert params["seed"].type == "int" and params["seed"].optional
    assert params["twice"].type is None and not params["twice"].has_literal_default
    assert params["twice"].default_source == "depth * 2"
    assert params["api_token"].secret_env == "API_TOKEN"
    assert params["api_token"].help == "the service token"


def test_multiline_and_type_comment_parameters():
    params = parse_parameters("grid = [\n  1,\n  2,\n]\nalpha = 1  # type: float scale\n")
    assert params["grid"].default == [1, 2]
    assert params["alpha"].type == "float" and params["alpha"].help == "scale"


@pytest.mark.parametrize(
    "text, value",
    [
        ("True", True),
        ("False", False),
        ("None", None),
        ("12", 12),
        ("0123", 123),
        ("1e3", 1000.0),
        ("nan", "nan-check"),
        ("0.5", 0.5),
        ("rf", "rf"),
        ("true", "true"),
    ],
)
def test_command_line_values_are_typed_like_papermill(text, value):
    got = value_from_text(text)
    if value == "nan-check":
        assert math.isnan(got)
    else:
        assert got == value and type(got) is type(value)


def test_values_are_converted_to_the_declared_type(notebook):
    cell = notebook.parameters
    got = check_parameters(
        cell,
        {"lr": 1, "depth": 5, "name": 123, "layers": "[8, 4]", "seed": None, "flag": "false"},
        "nb.ipynb",
        texts={"name": "123", "layers": "[8, 4]", "flag": "false"},
    )
    assert got == {
        "lr": 1.0,
        "depth": 5,
        "name": "123",
        "layers": [8, 4],
        "seed": None,
        "flag": False,
    }
    assert type(got["lr"]) is float


@pytest.mark.parametrize(
    "values, message",
    [
        ({"lr": "fast"}, "lr expects float"),
        ({"depth": 2.5}, "depth expects int"),
        ({"depth": True}, "depth expects int"),
        ({"layers": 3}, "layers expects list"),
        ({"lrr": 0.2}, "has no parameter 'lrr'"),
        ({"api_token": "x"}, "is secret: set the environment variable API_TOKEN"),
        ({"x = 1; import os": 1}, "has no parameter"),
        ({"options": {1: 2}}, "dict keys must be text"),
    ],
)
def test_bad_values_are_clear_errors_before_any_kernel(notebook, values, message):
    with pytest.raises(UsageError, match=message):
        check_parameters(notebook.parameters, values, "nb.ipynb")


def test_every_problem_is_reported_at_once(notebook):
    with pytest.raises(UsageError) as info:
        check_parameters(notebook.parameters, {"lr": "x", "nope": 1}, "nb.ipynb")
    assert "lr expects float" in str(info.value) and "'nope'" in str(info.value)


def test_no_parameters_cell_given_values_is_an_error(project):
    """Decision: unlike papermill (which injects at the top with a warning), a notebook
    without a ``parameters`` cell cannot take parameters: there is nothing to validate them
    against, and a typo would silently define an unused variable."""
    source = load_notebook(write_notebook(project.root / "plain.ipynb", None, "x = 1"))
    with pytest.raises(UsageError, match="no cell tagged 'parameters'"):
        check_parameters(source.parameters, {"x": 2}, "plain.ipynb")
    assert check_parameters(source.parameters, {}, "plain.ipynb") == {}


def test_secrets_must_be_set_and_are_logged_as_references(notebook, monkeypatch):
    monkeypatch.delenv("API_TOKEN", raising=False)
    with pytest.raises(UsageError, match="API_TOKEN"):
        check_secrets(notebook.parameters)
    monkeypatch.setenv("API_TOKEN", "s3cr3t-value")
    assert check_secrets(notebook.parameters) == {"api_token": "API_TOKEN"}
    logged = effective_parameters(notebook.parameters, {"lr": 0.5})
    assert logged["api_token"] == "env:API_TOKEN" and logged["lr"] == 0.5
    assert "twice" not in logged and logged["depth"] == 3


def test_source_digest_ignores_outputs_metadata_and_injected_cells(project):
    path = write_notebook(project.root / "a.ipynb", "x = 1", "print(x)")
    before = load_notebook(path).digest
    content = json.loads(path.read_text())
    content["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "1"}]
    content["cells"][1]["execution_count"] = 7
    content["metadata"]["papermill"] = {"duration": 1.0}
    content["cells"].insert(
        1,
        {
            "cell_type": "code",
            "source": "x = 2",
            "outputs": [],
            "metadata": {"tags": ["injected-parameters"]},
            "execution_count": None,
        },
    )
    path.write_text(json.dumps(content))
    assert load_notebook(path).digest == before
    content["cells"][-1]["source"] = "print(x + 1)"
    path.write_text(json.dumps(content))
    assert load_notebook(path).digest != before


def test_invalid_json_notebook_is_a_usage_error_with_position(project):
    path = project.root / "broken.ipynb"
    path.write_text('{"cells": [\n  {"cell_type": "code",,}\n]}')
    with pytest.raises(UsageError, match=r"invalid JSON at line 2 column"):
        load_notebook(path)
    result = mlops("run", path)
    assert result.returncode == 2
    assert "invalid JSON at line 2" in result.stderr and "Traceback" not in result.stderr


def test_not_a_notebook_and_missing_file_are_usage_errors(project):
    (project.root / "list.ipynb").write_text("[1, 2]")
    with pytest.raises(UsageError, match="not a Jupyter notebook"):
        load_notebook(project.root / "list.ipynb")
    with pytest.raises(UsageError, match="does not exist"):
        load_notebook(project.root / "missing.ipynb")


def test_help_params_lists_the_parameters(project):
    write_notebook(project.root / "nb.ipynb", CELL, "print(lr)")
    result = mlops("run", "nb.ipynb", "--help-params", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["lr"] == {"name": "lr", "type": "float", "default": "0.1", "help": "learning rate"}
    assert rows["api_token"]["default"] == "env API_TOKEN"
    assert rows["seed"]["type"] == "int | None"


def test_cli_usage_errors_exit_2_without_starting_a_kernel(project):
    write_notebook(project.root / "nb.ipynb", CELL, "print(lr)")
    result = mlops("run", "nb.ipynb", "-p", "lr", "fast")
    assert result.returncode == 2
    assert "lr expects float" in result.stderr
    env = {**os.environ, "API_TOKEN": "s3cr3t-value"}
    result = mlops("run", "nb.ipynb", "--kernel", "no-such-kernel", env=env)
    assert result.returncode == 2 and "kernel 'no-such-kernel' is not installed" in result.stderr
    assert mlops("runs", "ls", "--json").stdout.strip() == "[]"
