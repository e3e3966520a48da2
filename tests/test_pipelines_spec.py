"""Pipeline files are validated fully, with line numbers, before anything runs."""

from __future__ import annotations

import textwrap

import pytest
from test_pipelines_support import mlops, write_notebook

from mlops_nb.errors import UsageError
from mlops_nb.pipelines.dag import select
from mlops_nb.pipelines.spec import load_pipeline


@pytest.fixture
def folder(project):
    write_notebook(project.root / "prep.ipynb", "rows = 3", "x = rows")
    write_notebook(project.root / "train.ipynb", "data = 'x.csv'\nlr = 0.1", "y = lr")
    write_notebook(project.root / "report.ipynb", "auc = 0.0", "print(auc)")
    (project.root / "raw.csv").write_text("a\n1\n")
    return project.root


def write(folder, text):
    path = folder / "pipeline.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def error_of(path) -> str:
    with pytest.raises(UsageError) as info:
        load_pipeline(path)
    return str(info.value)


def test_valid_pipeline_orders_steps_and_infers_dependencies(folder):
    path = write(
        folder,
        """\
        name: churn
        vars: {lr: 0.2}
        steps:
          report:
            notebook: report.ipynb
            parameters: {auc: "${steps.train.metrics.auc}"}
          train:
            notebook: train.ipynb
            parameters: {data: "${steps.prep.outputs.clean.csv}", lr: "${vars.lr}"}
          prep:
            notebook: prep.ipynb
            inputs: [raw.csv]
            outputs: [clean.csv]
        """,
    )
    spec = load_pipeline(path)
    assert spec.name == "churn"
    assert spec.order == ["prep", "train", "report"]
    assert spec.steps["train"].needs == ["prep"]
    assert spec.steps["report"].needs == ["train"]


def test_a_cycle_is_reported_with_its_line(folder):
    path = write(
        folder,
        """\
        steps:
          a:
            notebook: prep.ipynb
            needs: [c]
          b:
            notebook: train.ipynb
            needs: [a]
          c:
            notebook: report.ipynb
            needs: [b]
        """,
    )
    message = error_of(path)
    assert "steps form a cycle" in message
    for link in ("a needs c", "c needs b", "b needs a"):
        assert link in message
    assert "line " in message


@pytest.mark.parametrize(
    "body, expected",
    [
        (
            "  a:\n    notebook: prep.ipynb\n    needs: [prepp]\n",
            "line 4: step 'a' needs 'prepp', which is not a step",
        ),
        ("  a:\n    notebook: missing.ipynb\n", "line 3: step 'a': notebook"),
        ("  a:\n    notebok: prep.ipynb\n", "line 2: step 'a' needs a notebook"),
        (
            "  a:\n    notebook: prep.ipynb\n    parameter: {rows: 2}\n",
            "line 4: unknown step key 'parameter' (did you mean 'parameters'?)",
        ),
        (
            "  a:\n    notebook: prep.ipynb\n    parameters: {rows: many}\n",
            "line 4: prep.ipynb: parameter rows expects int",
        ),
        (
            "  a:\n    notebook: prep.ipynb\n    parameters: {rowz: 2}\n",
            "line 4: prep.ipynb has no parameter 'rowz'",
        ),
        (
            "  a:\n    notebook: prep.ipynb\n    parameters: {rows: '${vars.n}'}\n",
            "line 4: parameter rows: ${vars.n}: no var 'n'",
        ),
        (
            "  a:\n    notebook: prep.ipynb\n  b:\n    notebook: train.ipynb\n"
            "    parameters: {data: '${steps.a.outputs.x.csv}'}\n",
            "line 6: parameter data: ${steps.a.outputs.x.csv}: step 'a' declares no output 'x.csv'",
        ),
        ("  a:\n    notebook: prep.ipynb\n    gate: metrics.auc >=\n", "line 4: gate"),
        (
            "  a:\n    notebook: prep.ipynb\n    inputs: [nothere.csv]\n",
            "line 4: input 'nothere.csv' does not exist",
        ),
        ("  a:\n    notebook: prep.ipynb\n    timeout: -1\n", "line 4: timeout must be a positive"),
        (
            "  a:\n    notebook: prep.ipynb\n  a:\n    notebook: train.ipynb\n",
            "line 4: 'a' is given twice",
        ),
    ],
)
def test_bad_steps_are_reported_with_their_line(folder, body, expected):
    message = error_of(write(folder, "steps:\n" + body))
    assert expected in message


def test_every_problem_is_reported_in_one_go(folder):
    path = write(
        folder,
        """\
        steps:
          a:
            notebook: prep.ipynb
            needs: [zz]
          b:
            notebook: train.ipynb
            parameters: {nope: 1}
        """,
    )
    lines = error_of(path).splitlines()
    assert len(lines) == 2 and "line 4" in lines[0] and "line 7" in lines[1]


def test_invalid_yaml_and_unsafe_tags_name_the_line(folder):
    message = error_of(write(folder, "steps:\n  a: [unclosed\n"))
    assert "invalid YAML" in message and "line" in message
    message = error_of(write(folder, "steps:\n  a: !!python/object/apply:os.system ['echo x']\n"))
    assert "invalid YAML" in message


def test_selection_only_and_from(folder):
    path = write(
        folder,
        """\
        steps:
          prep: prep.ipynb
          train: {notebook: train.ipynb, needs: [prep]}
          report: {notebook: report.ipynb, needs: [train]}
        """,
    )
    needs = load_pipeline(path).needs()
    assert select(needs) == {"prep", "train", "report"}
    assert select(needs, only=["train"]) == {"train"}
    assert select(needs, from_="train") == {"train", "report"}
    with pytest.raises(UsageError, match=r"'trian' is not a step of this pipeline \(did you mean"):
        select(needs, only=["trian"])


def test_cli_reports_an_invalid_pipeline_with_exit_2(folder):
    write(folder, "steps:\n  a:\n    notebook: prep.ipynb\n    needs: [a]\n")
    result = mlops("pipeline", "run", "pipeline.yaml")
    assert result.returncode == 2
    assert "pipeline.yaml line 4: step 'a' cannot need itself" in result.stderr


@pytest.mark.parametrize(
    "body, expected",
    [
        ("    grid: {rows: [1, 2]}\n", "needs select:"),
        ("    select: metrics.auc\n", "select: needs a grid:"),
        ("    grid: {rows: [1, x]}\n    select: metrics.auc\n", "rows expects int"),
        ("    grid: {rows: []}\n    select: metrics.auc\n", "non-empty list"),
        (
            "    parameters: {rows: 1}\n    grid: {rows: [2]}\n    select: metrics.auc\n",
            "rows is set both in parameters and in grid",
        ),
        ("    grid: {rows: [2]}\n    select: auc\n", "sort 'auc'"),
    ],
)
def test_bad_grids_are_reported(folder, body, expected):
    message = error_of(write(folder, "steps:\n  a:\n    notebook: prep.ipynb\n" + body))
    assert expected in message
