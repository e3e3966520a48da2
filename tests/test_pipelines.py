"""Pipelines: caching, dry-run reasons, partial runs, gates, outputs, JUnit, Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET

import pytest
import sqlalchemy as sa
from test_pipelines_support import (
    gone,
    mlops,
    wait_for_file,
    write_notebook,
    write_sleepy,
)

import mlops_nb as mlops_api
from mlops_nb.errors import UsageError
from mlops_nb.store import schema
from mlops_nb.tracking.query import list_runs

PIPELINE = """\
name: churn
vars: {lr: 0.2}
steps:
  prep:
    notebook: prep.ipynb
    parameters: {scale: 2}
    inputs: [raw.csv]
    outputs: [clean.csv]
  train:
    notebook: train.ipynb
    parameters: {data: "${steps.prep.outputs.clean.csv}", lr: "${vars.lr}"}
    gate: metrics.auc >= 0.5
  report:
    notebook: report.ipynb
    parameters: {auc: "${steps.train.metrics.auc}"}
  lint:
    notebook: lint.ipynb
"""


@pytest.fixture
def pipeline(project):
    root = project.root
    write_notebook(
        root / "prep.ipynb",
        "scale = 1",
        "rows = open('raw.csv').read().split()\n"
        "open('clean.csv', 'w').write('\\n'.join(str(int(r) * scale) for r in rows))",
    )
    write_notebook(
        root / "train.ipynb",
        "data = 'clean.csv'\nlr = 0.1",
        "import mlops_nb as mlops\n"
        "values = [int(v) for v in open(data).read().split()]\n"
        "mlops.log_metric('auc', min(0.99, 0.4 + lr + len(values) / 100))",
    )
    write_notebook(root / "report.ipynb", "auc = 0.0", "print(f'auc={auc:.2f}')")
    write_notebook(root / "lint.ipynb", None, "x = 1")
    (root / "raw.csv").write_text("1\n2\n3\n")
    path = root / "pipeline.yaml"
    path.write_text(PIPELINE)
    return path


def statuses(result) -> dict[str, str]:
    return {s.name: s.status for s in result.steps}


def reasons(result) -> dict[str, str]:
    return {s.name: s.reason for s in result.steps}


def test_cached_pipeline_reruns_only_what_changed(project, pipeline):
    first = mlops_api.run_pipeline(pipeline, jobs=2)
    assert first.ok, [(s.name, s.reason) for s in first.steps]
    assert statuses(first) == dict.fromkeys(["prep", "train", "report", "lint"], "run")
    assert reasons(first)["prep"] == "never run before"
    parent = mlops_api.get_run(first.run_id)
    assert parent.kind == "pipeline" and parent.status == "finished"
    assert {c.name for c in parent.children} == {"prep", "train", "report", "lint"}
    train = first["train"]
    assert train.metrics == {"auc": pytest.approx(0.63)}
    assert mlops_api.get_run(train.run_id).params == {"data": "clean.csv", "lr": 0.2}
    assert mlops_api.get_run(first["report"].run_id).params == {"auc": pytest.approx(0.63)}
    with project.db.read() as conn:
        keys = dict(
            conn.execute(
                sa.select(schema.runs.c.name, schema.runs.c.cache_key).where(
                    schema.runs.c.kind == "step"
                )
            ).all()
        )
    assert keys["train"] == train.cache_key and len(train.cache_key) == 64

    # Nothing changed: every step comes from the cache, no kernel starts.
    junit = project.root / "report.xml"
    second = mlops_api.run_pipeline(pipeline, junit=junit)
    assert second.ok and set(statuses(second).values()) == {"cached"}
    assert second["train"].cached_from == train.run_id
    assert second["train"].metrics == train.metrics
    cached_run = mlops_api.get_run(second["train"].run_id)
    assert cached_run.tags["mlops.cached_from"] == train.run_id and not cached_run.artifacts
    cases = ET.parse(junit).getroot().findall(".//testcase")
    assert [c.get("name") for c in cases] == ["prep", "lint", "train", "report"]  # run order
    assert all(c.find("skipped") is not None for c in cases)

    # One input changes: the dry run says what would run and why.
    (project.root / "raw.csv").write_text("1\n2\n3\n4\n")
    dry = mlops_api.run_pipeline(pipeline, dry_run=True)
    assert dry.run_id is None and dry.ok
    assert statuses(dry) == {"prep": "run", "train": "run", "report": "run", "lint": "cached"}
    assert reasons(dry)["prep"] == "input file:raw.csv changed"
    assert reasons(dry)["train"] == "upstream 'prep' will run"
    third = mlops_api.run_pipeline(pipeline)
    assert statuses(third) == {"prep": "run", "train": "run", "report": "run", "lint": "cached"}
    assert reasons(third)["train"] == "upstream step prep changed"
    assert reasons(third)["report"] == "parameter auc 0.63 -> 0.64; upstream step train changed"

    # A changed var is explained as a changed parameter; a deleted output forces a re-run.
    pipeline.write_text(PIPELINE.replace("lr: 0.2", "lr: 0.3"))
    assert reasons(mlops_api.run_pipeline(pipeline, dry_run=True))["train"] == (
        "parameter lr 0.2 -> 0.3"
    )
    (project.root / "clean.csv").unlink()
    assert reasons(mlops_api.run_pipeline(pipeline, dry_run=True))["prep"] == (
        "output clean.csv is missing"
    )


def test_only_and_force_run_one_step_with_cached_upstream(project, pipeline):
    (project.root / "pipeline.yaml").write_text(
        PIPELINE.replace("  lint:\n    notebook: lint.ipynb\n", "")
    )
    with pytest.raises(UsageError, match="'trian' is not a step"):
        mlops_api.run_pipeline(pipeline, only="trian")
    blocked = mlops_api.run_pipeline(pipeline, only="train")
    assert not blocked.ok
    assert statuses(blocked) == {"prep": "skipped", "train": "failed", "report": "skipped"}
    assert "not selected and has no cached result" in reasons(blocked)["train"]
    assert mlops_api.run_pipeline(pipeline).ok
    again = mlops_api.run_pipeline(pipeline, only=["report"], force=True)
    assert again.ok
    assert statuses(again) == {"prep": "cached", "train": "cached", "report": "run"}
    assert reasons(again)["report"] == "--force"


def test_failures_gates_and_missing_outputs_exit_1_with_junit(project):
    root = project.root
    write_notebook(root / "ok.ipynb", None, "print('fine')")
    write_notebook(root / "boom.ipynb", None, "x = 1", "raise ValueError('bad data')")
    write_notebook(root / "after.ipynb", None, "print('never')")
    write_notebook(
        root / "gated.ipynb", None, "import mlops_nb as mlops\nmlops.log_metric('auc', 0.3)"
    )
    write_notebook(root / "noout.ipynb", None, "x = 2")
    (root / "p.yaml").write_text(
        textwrap.dedent("""\
        steps:
          ok: ok.ipynb
          boom: boom.ipynb
          after: {notebook: after.ipynb, needs: [boom]}
          gated: {notebook: gated.ipynb, gate: ["metrics.auc >= 0.8"]}
          noout: {notebook: noout.ipynb, outputs: [missing.csv, {model: churn}]}
        """)
    )
    result = mlops("pipeline", "run", "p.yaml", "--jobs", "2", "--junit", "junit.xml")
    assert result.returncode == 1, result.stderr
    assert "--- boom ---" in result.stderr and "ValueError: bad data" in result.stderr
    suite = ET.parse(root / "junit.xml").getroot().find("testsuite")
    assert suite.get("tests") == "5" and suite.get("failures") == "3"
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert cases["ok"].find("failure") is None and cases["ok"].find("skipped") is None
    boom = cases["boom"].find("failure")
    assert boom.get("type") == "ValueError"
    assert "cell 1 of boom.ipynb raised ValueError: bad data" in boom.get("message")
    assert "raise ValueError('bad data')" in boom.text and "Traceback" in boom.text
    assert cases["after"].find("skipped").get("message") == "skipped: upstream 'boom' failed"
    assert cases["gated"].find("failure").get("message") == (
        "gate failed: metrics.auc >= 0.8 (metrics.auc = 0.3)"
    )
    assert cases["noout"].find("failure").get("message") == (
        "declared outputs were not produced: file missing.csv, model churn"
    )
    runs = list_runs(project, status=None)
    pipeline_run = runs[runs["kind"] == "pipeline"].iloc[0]
    assert pipeline_run["status"] == "failed"
    steps = runs[runs["kind"] == "step"].set_index("name")["status"].to_dict()
    assert steps == {"ok": "finished", "boom": "failed", "gated": "failed", "noout": "failed"}


def test_ctrl_c_stops_kernels_and_marks_runs_interrupted(project):
    pid_file = project.root / "kernel.pid"
    write_sleepy(project.root / "sleepy.ipynb", pid_file)
    write_notebook(project.root / "next.ipynb", None, "x = 1")
    (project.root / "p.yaml").write_text(
        "steps:\n  sleepy: sleepy.ipynb\n  next: {notebook: next.ipynb, needs: [sleepy]}\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "mlops_nb.cli", "pipeline", "run", "p.yaml"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        kernel = int(wait_for_file(pid_file))
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr
    assert gone(kernel), "the kernel outlived the interrupted pipeline"
    runs = list_runs(project).set_index("kind")
    assert runs.loc["pipeline", "status"] == "interrupted"
    assert runs.loc["step", "status"] == "interrupted"
    assert len(list_runs(project)) == 2  # 'next' never started


def test_an_error_mid_pipeline_stops_the_kernels_and_fails_the_runs(project, monkeypatch):
    """An error inside the scheduler itself (here: recording a finished step) must not leave
    kernels running or runs ``running`` forever in a long-lived notebook process."""
    from mlops_nb.pipelines.runner import Runner

    pid_file = project.root / "kernel.pid"
    write_sleepy(project.root / "sleepy.ipynb", pid_file)
    write_notebook(  # finishes once the other kernel is busy
        project.root / "quick.ipynb",
        None,
        "import pathlib, time\n"
        f"while not pathlib.Path({str(pid_file)!r}).exists(): time.sleep(0.05)",
    )
    (project.root / "p.yaml").write_text("steps:\n  sleepy: sleepy.ipynb\n  quick: quick.ipynb\n")
    finish = Runner._finish

    def failing_finish(self, task, *args):
        if task.name == "quick":
            raise RuntimeError("the store went away")
        return finish(self, task, *args)

    monkeypatch.setattr(Runner, "_finish", failing_finish)
    with pytest.raises(RuntimeError, match="the store went away"):
        mlops_api.run_pipeline(project.root / "p.yaml", jobs=2)
    assert gone(int(pid_file.read_text())), "the kernel outlived the failed pipeline"
    runs = list_runs(project, status=None)
    assert runs.set_index("kind").loc["pipeline", "status"] == "failed"
    steps = runs[runs["kind"] == "step"].set_index("name")["status"].to_dict()
    assert steps == {"sleepy": "failed", "quick": "failed"}
    sleepy = mlops_api.get_run(runs.set_index("name").loc["sleepy", "run_id"])
    assert sleepy.tags["mlops.failure"] == "interrupted"  # its kernel was stopped


def test_dataset_inputs_are_pinned_and_keyed_by_version(project):
    import pandas as pd

    write_notebook(project.root / "use.ipynb", "data = 'train@latest'", "print(data)")
    (project.root / "p.yaml").write_text(
        textwrap.dedent("""\
        steps:
          use:
            notebook: use.ipynb
            inputs: [train@latest]
            parameters: {data: "${inputs.train}"}
        """)
    )
    dry = mlops_api.run_pipeline(project.root / "p.yaml", dry_run=True)
    assert dry["use"].status == "failed" and "no dataset named 'train'" in dry["use"].reason
    mlops_api.snapshot(pd.DataFrame({"a": [1, 2]}), "train")
    dry = mlops_api.run_pipeline(project.root / "p.yaml", dry_run=True)
    assert dry["use"].status == "run" and dry["use"].parameters == {"data": "train@1"}
    first = mlops_api.run_pipeline(project.root / "p.yaml")
    assert first.ok and mlops_api.get_run(first["use"].run_id).params == {"data": "train@1"}
    assert mlops_api.run_pipeline(project.root / "p.yaml", dry_run=True)["use"].status == "cached"
    mlops_api.snapshot(pd.DataFrame({"a": [1, 2, 3]}), "train")
    dry = mlops_api.run_pipeline(project.root / "p.yaml", dry_run=True)
    assert dry["use"].status == "run"
    assert dry["use"].reason == "parameter data 'train@1' -> 'train@2'; input dataset:train changed"


def test_dataset_and_model_outputs_flow_downstream_and_gate_on_checks(project):
    write_notebook(
        project.root / "make.ipynb",
        "rows = 3\nlimit = 10",
        "import pandas as pd, mlops_nb as mlops\n"
        "df = pd.DataFrame({'a': list(range(rows))})\n"
        "mlops.snapshot(df, 'feats')\n"
        "mlops.check_data('feats@latest', {'columns': {'a': {'max': limit}}})\n"
        "open('model.txt', 'w').write(str(rows))\n"
        "mlops.register_model('model.txt', 'churn')",
    )
    write_notebook(project.root / "use.ipynb", "feats = ''\nmodel = ''", "print(feats, model)")
    path = project.root / "p.yaml"
    path.write_text(
        textwrap.dedent("""\
        steps:
          make:
            notebook: make.ipynb
            outputs: [{dataset: feats}, {model: churn}, model.txt]
            gate: [{data_checks: passed}]
          use:
            notebook: use.ipynb
            parameters:
              feats: "${steps.make.outputs.feats}"
              model: "${steps.make.outputs.churn}"
        """)
    )
    first = mlops_api.run_pipeline(path)
    assert first.ok, [(s.name, s.reason) for s in first.steps]
    assert first["make"].outputs["datasets"]["feats"]["version"] == 1
    assert first["make"].outputs["models"]["churn"]["version"] == 1
    assert mlops_api.get_run(first["use"].run_id).params == {"feats": "feats@1", "model": "churn@1"}
    assert set(statuses(mlops_api.run_pipeline(path)).values()) == {"cached"}
    path.write_text(
        path.read_text().replace(
            "notebook: make.ipynb", "notebook: make.ipynb\n    parameters: {rows: 20}"
        )
    )
    gated = mlops_api.run_pipeline(path)
    assert statuses(gated) == {"make": "failed", "use": "skipped"}
    assert reasons(gated)["make"].startswith("gate failed: data_checks: passed (feats@2: ")


def test_bad_executor_options_are_usage_errors(project, pipeline):
    with pytest.raises(UsageError, match=r"Dask workers on 10\.255\.255\.1 cannot reach"):
        mlops_api.run_pipeline(pipeline, executor="dask://10.255.255.1:8786")
    with pytest.raises(UsageError, match="unknown executor 'spark'"):
        mlops_api.run_pipeline(pipeline, executor="spark")
    with pytest.raises(UsageError, match="jobs must be a positive integer"):
        mlops_api.run_pipeline(pipeline, jobs=0)
    result = mlops("pipeline", "run", pipeline, "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    assert [s["status"] for s in json.loads(result.stdout)["steps"]] == ["run"] * 4
    assert mlops_api.runs().empty


def test_a_grid_step_runs_every_point_and_passes_on_the_best(project):
    write_notebook(
        project.root / "tune.ipynb",
        "model = 'a'\ndepth = 1",
        "import mlops_nb as mlops\n"
        "mlops.log_metric('score', {'a': 0.5, 'b': 0.7}[model] + depth / 100)",
    )
    write_notebook(project.root / "use.ipynb", "score = 0.0", "print(score)")
    path = project.root / "p.yaml"
    path.write_text(
        textwrap.dedent("""\
        steps:
          tune:
            notebook: tune.ipynb
            parameters: {depth: 3}
            grid: {model: [a, b]}
            select: metrics.score
            gate: metrics.score > 0.6
          use:
            notebook: use.ipynb
            parameters: {score: "${steps.tune.metrics.score}"}
        """)
    )
    first = mlops_api.run_pipeline(path, jobs=2)
    assert first.ok, [(s.name, s.reason) for s in first.steps]
    assert statuses(first) == {
        "tune[model=a]": "run",
        "tune[model=b]": "run",
        "tune": "run",
        "use": "run",
    }
    assert reasons(first)["tune"] == "best of 2 points: tune[model=b] (metrics.score = 0.73)"
    best = mlops_api.get_run(first["tune"].run_id)
    assert best.params == {"model": "b", "depth": 3} and best.tags["mlops.selected"] == "tune"
    assert mlops_api.get_run(first["use"].run_id).params == {"score": pytest.approx(0.73)}
    again = mlops_api.run_pipeline(path, dry_run=True)
    assert set(statuses(again).values()) == {"cached"}
    path.write_text(path.read_text().replace("score > 0.6", "score > 0.8"))
    gated = mlops_api.run_pipeline(path)
    assert statuses(gated) == {
        "tune[model=a]": "cached",
        "tune[model=b]": "cached",
        "tune": "failed",
        "use": "skipped",
    }
    assert reasons(gated)["tune"] == "gate failed: metrics.score > 0.8 (metrics.score = 0.73)"


def test_the_example_ci_workflow_runs_the_pipeline_headless():
    import yaml

    from mlops_nb.examples import examples_dir

    folder = examples_dir()
    workflow = yaml.safe_load((folder / ".github" / "workflows" / "pipeline.yml").read_text())
    commands = "\n".join(s.get("run", "") for s in workflow["jobs"]["pipeline"]["steps"])
    assert "pip install" in commands
    assert "mlops pipeline run pipeline.yaml --jobs 2 --junit reports/pipeline.xml" in commands
    assert (folder / "pipeline.yaml").is_file()


def test_pipeline_on_each_store_backend(any_project):
    root = any_project.root
    write_notebook(root / "a.ipynb", "n = 1", "import mlops_nb as mlops\nmlops.log_metric('n', n)")
    write_notebook(
        root / "b.ipynb", "m = 0.0", "import mlops_nb as mlops\nmlops.log_metric('m', m)"
    )
    (root / "p.yaml").write_text(
        textwrap.dedent("""\
        steps:
          a: {notebook: a.ipynb, parameters: {n: 4}}
          b: {notebook: b.ipynb, parameters: {m: "${steps.a.metrics.n}"}}
        """)
    )
    first = mlops_api.run_pipeline(root / "p.yaml", jobs=2)
    assert first.ok and first["b"].metrics == {"m": 4.0}
    second = mlops_api.run_pipeline(root / "p.yaml")
    assert statuses(second) == {"a": "cached", "b": "cached"}
    assert second["b"].metrics == {"m": 4.0}
