"""``%mlops`` subcommands in a real kernel: each failure is one error line that fails the cell,
and the thin magics over the data, registry and monitor cores work end to end."""

from __future__ import annotations

import pytest
from test_notebook import run_cells, write_notebook

import mlops_nb as mlops

pytestmark = pytest.mark.slow

POLICY = """\
promotion:
  production:
    require:
      - metrics.auc >= 0.99
"""

SETUP = """\
import numpy as np, pandas as pd
from sklearn.linear_model import LogisticRegression
rng = np.random.default_rng(0)
df = pd.DataFrame({"x": rng.normal(size=200), "y": rng.integers(0, 2, 200)})
shifted = df.assign(x=df.x + 3)
model = LogisticRegression().fit(df[["x"]], df.y)
auc = 0.9"""

# (source, expected error name or None, text the error line or output must contain)
CELLS = [
    ("%load_ext mlops_nb", None, ""),
    ("%mlops log acc=1", "UsageError", "no active run: start one with %mlops track"),
    ("%mlops track", None, ""),
    ("%mlops bogus", "UsageError", "unknown subcommand 'bogus'; use one of: track, stop"),
    ("%mlops track other", "UsageError", "already tracking run 'magics'"),
    ("%mlops log missing_var", "UsageError", "no variable 'missing_var' in the notebook"),
    ("%mlops param lr:0.1", "UsageError", "bad argument 'lr:0.1': expected key=value"),
    ("%mlops param model=rf", "UsageError", "model=rf: no variable 'rf' in the notebook; quote"),
    ("%mlops log", "UsageError", "give at least one key=value or variable name"),
    ("%mlops log acc='high'", "UsageError", "metric 'acc' must be a number"),
    ("%mlops log --step x acc=1", "UsageError", "%mlops log: argument --step: invalid int"),
    ("%mlops stop --status nope", "UsageError", "argument --status: invalid choice: 'nope'"),
    ("%%mlops status\nx = 1", "UsageError", "%%mlops status is not a cell magic"),
    ("%mlops compare 0000000", "UsageError", "compare needs two or more runs"),
    ("%mlops runs --filter 'metrics.auc >'", "FilterError", "bad filter 'metrics.auc >'"),
    ("%mlops snapshot nothing", "UsageError", "no variable 'nothing' in the notebook"),
    ("%mlops help", None, "%mlops promote"),
    ("%mlops track --help", None, "  %mlops track [-e EXPERIMENT]"),
    ("%mlops param layers=[64, 32] name=\"a b\" cfg={'depth': 3}", None, ""),
    (SETUP, None, ""),
    ("%mlops log auc --step 3", None, ""),
    ("%mlops snapshot df --name train", None, "train@1"),
    ("%mlops snapshot shifted --name train", None, "train@2"),
    ("%mlops register model --name churn", None, "churn"),
    ("%mlops promote churn --to staging --reason 'first cut'", None, "churn@1 is now staging"),
    (
        '%mlops promote churn@staging --to production --reason "ship it"',
        "PromotionRejected",
        "churn@1 was not promoted to production: 1 of 1 checks failed: metrics.auc >= 0.99",
    ),
    ("%mlops drift train@1 shifted", None, "drift"),
    ("%mlops models", None, "churn"),
    ("%mlops data train", None, "train"),
    ("%mlops runs --experiment default --limit 5", None, "magics"),
    ("%mlops status", None, "magics"),
    ("%mlops save", None, "saved magics.ipynb and"),
    ("%mlops stop --status failed", None, "failed run 'magics'"),
    ("%mlops stop", "UsageError", "no active run"),
]


def output_text(cell) -> str:
    parts = []
    for output in cell.outputs:
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type in ("display_data", "execute_result"):
            parts.extend(str(v) for k, v in output.data.items() if k.startswith("text/"))
    return "".join(parts)


def test_magics_errors_are_one_line_and_the_thin_magics_work(project):
    (project.root / "mlops.yaml").write_text(POLICY)
    path = write_notebook(project.root, [source for source, _, _ in CELLS], "magics.ipynb")
    notebook = run_cells(path)
    for cell, (source, error, expected) in zip(notebook.cells, CELLS, strict=True):
        failures = [o for o in cell.outputs if o.output_type == "error"]
        if error is None:
            assert failures == [], (source, failures)
            assert expected in output_text(cell), (source, output_text(cell))
        else:
            assert len(failures) == 1, (source, cell.outputs)
            assert failures[0].ename == error, (source, failures[0].ename)
            assert len(failures[0].traceback) == 1, (source, failures[0].traceback)
            assert expected in failures[0].traceback[0], (source, failures[0].traceback)
    # the runs table and the status are in the saved widget state (render when reopened)
    models = notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    names = [m["model_name"] for m in models.values()]
    assert {"CheckboxModel", "DropdownModel", "TextModel", "HTMLModel"} <= set(names)
    assert any("magics" in str(m["state"].get("value", "")) for m in models.values())
    run = mlops.get_run(mlops.runs(filter="name == 'magics'")["run_id"][0])
    assert run.status == "failed"
    assert run.params == {"layers": [64, 32], "name": "a b", "cfg": {"depth": 3}}
    assert list(run.metric_history("auc")["step"]) == [3]
    # the failed cells are in the history, with the error type the user saw
    errors = run.cells["error_type"].dropna()
    assert errors.value_counts().to_dict() == {
        "UsageError": 12,
        "FilterError": 1,
        "PromotionRejected": 1,
    }
    assert run.reproducible is False
    models = mlops.models("churn")
    assert list(models["version"]) == [1] and models["aliases"][0] == ["staging"]
    assert list(mlops.datasets("train")["version"]) == [1, 2]


def test_terminal_ipython_gets_text_tables(project, capsys):
    from IPython.core.interactiveshell import InteractiveShell

    from mlops_nb.tracking.runs import create_run, end_run

    for name in ("first", "second"):
        run = create_run(project, name, params={"lr": 0.1})
        end_run(project, run.run_id)
    shell = InteractiveShell()
    try:
        mlops.load_ipython_extension(shell)
        shell.run_line_magic("mlops", "runs")
        out = capsys.readouterr().out
        assert out.splitlines()[0].split()[:3] == ["run_id", "name", "experiment"]
        assert "second" in out and "2 of 2 runs" in out
        result = shell.run_cell("%mlops bogus")
        assert type(result.error_in_exec).__name__ == "UsageError"
        assert capsys.readouterr().err.count("\n") <= 1
    finally:
        mlops.unload_ipython_extension(shell)
        shell.clear_instance()
