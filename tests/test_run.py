"""``mlops run`` / ``run_notebook``: a notebook executed by papermill as a tracked run."""

from __future__ import annotations

import json
import os
import sys

import nbformat
import psutil
import pytest
from test_pipelines_support import (
    PID_CELL,
    gone,
    mlops,
    write_notebook,
    zombie_children,
)

import mlops_nb as mlops_api
from mlops_nb.pipelines.results import KernelFallbackWarning

TRAIN = [
    "import mlops_nb as mlops, os\n"
    "for step in range(3):\n"
    "    mlops.log_metric('loss', 1.0 / (lr * (step + 1)), step=step)\n"
    "mlops.log_metric('auc', 0.5 + lr)\n"
    "print('trained', name, os.path.basename(os.getcwd()))",
]


def test_run_notebook_is_a_tracked_run(project):
    path = write_notebook(project.root / "nbs" / "train.ipynb", "lr = 0.1\nname = 'base'", *TRAIN)
    output = project.root / "out.ipynb"
    result = mlops_api.run_notebook(path, {"lr": 0.25}, experiment="exp", output=output)
    assert result.ok and result.error is None
    run = mlops_api.get_run(result.run_id)
    assert run.status == "finished" and run.kind == "notebook" and run.experiment == "exp"
    assert run.params == {"lr": 0.25, "name": "base"}
    assert run.notebook_path == "nbs/train.ipynb"
    assert result.metrics == {"loss": pytest.approx(4 / 3), "auc": 0.75}
    assert list(run.metric_history("loss")["step"]) == [0, 1, 2]
    artifacts = {a.path for a in run.artifacts}
    assert {"notebook.ipynb", "stdout.txt"} <= artifacts
    stdout = project.blobs.get_bytes(
        next(a.digest for a in run.artifacts if a.path == "stdout.txt")
    )
    assert stdout.decode() == "trained base nbs\n"  # the kernel starts in the notebook's folder
    executed = json.loads(output.read_text())
    injected = [c for c in executed["cells"] if "injected-parameters" in c["metadata"]["tags"]]
    assert injected and "lr = 0.25" in "".join(injected[0]["source"])
    assert executed["metadata"]["papermill"]["input_path"] == "nbs/train.ipynb"
    assert "trained base" in "".join(executed["cells"][-1]["outputs"][0]["text"])


def test_failing_cell_exits_1_with_index_source_and_traceback(project):
    write_notebook(
        project.root / "bad.ipynb", "n = 1", "x = n + 1", "def f():\n    return 1 / 0\nf()"
    )
    result = mlops("run", "bad.ipynb", "-p", "n", "2", "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["status"] == "failed"
    error = report["error"]
    assert error["kind"] == "cell" and error["cell_index"] == 2  # index in the source notebook
    assert error["ename"] == "ZeroDivisionError" and "return 1 / 0" in error["source"]
    assert "ZeroDivisionError" in error["traceback"] and "\x1b[" not in error["traceback"]
    assert "cell 2 of bad.ipynb raised ZeroDivisionError" in result.stderr
    run = mlops_api.get_run(report["run_id"])
    assert run.status == "failed" and run.tags["mlops.failure"] == "cell"
    assert {"notebook.ipynb", "failure.json"} <= {a.path for a in run.artifacts}

    people = mlops("run", "bad.ipynb")
    assert people.returncode == 1
    assert "cell source:\n    def f():" in people.stderr and "Cell In[" in people.stderr
    assert "site-packages" not in people.stderr and "mlops_nb/" not in people.stderr
    assert "ZeroDivisionError" in people.stderr


def test_hanging_cell_is_killed_by_timeout_and_kernel_cleaned_up(project):
    pid_file = project.root / "kernel.pid"
    path = write_notebook(
        project.root / "hang.ipynb",
        None,
        PID_CELL.format(path=str(pid_file)),
        "import time\ntime.sleep(600)",
        "print('never')",
    )
    result = mlops_api.run_notebook(path, timeout=2)
    assert not result.ok and result.error.kind == "timeout"
    assert "cell 1 of hang.ipynb ran longer than the 2 s cell timeout" in result.error.message
    assert mlops_api.get_run(result.run_id).status == "failed"
    assert gone(int(pid_file.read_text()))
    assert not zombie_children()


def test_kernel_dying_mid_run_fails_the_run_without_zombies(project):
    pid_file = project.root / "kernel.pid"
    path = write_notebook(
        project.root / "die.ipynb",
        None,
        PID_CELL.format(path=str(pid_file)),
        "import mlops_nb as mlops\nmlops.log_metric('before', 1.0)",
        "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
        "print('never')",
    )
    result = mlops_api.run_notebook(path)
    assert not result.ok and result.error.kind == "kernel_died"
    assert "killed by SIGKILL" in result.error.message and "cell 2" in result.error.message
    run = mlops_api.get_run(result.run_id)
    assert run.status == "failed" and "SIGKILL" in run.tags["mlops.failure_reason"]
    assert run.metrics == {"before": 1.0}  # logged before the crash, recovered from its log
    pid = int(pid_file.read_text())
    assert gone(pid)
    assert pid not in [p.pid for p in psutil.Process().children(recursive=True)]
    assert not zombie_children()


def _kernelspec(folder, name: str, argv: list[str]) -> None:
    spec = folder / "kernels" / name
    spec.mkdir(parents=True)
    spec.joinpath("kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": name, "language": "python"})
    )


def test_kernels_that_start_slowly_or_die_at_start(project, monkeypatch, tmp_path):
    """Readiness is asked for again until the kernel answers on both channels; a kernel that
    exits before answering fails the run at once, with the reason."""
    slow = tmp_path / "slow_kernel.py"
    slow.write_text(
        "import time\ntime.sleep(1.5)\n"
        "from ipykernel.kernelapp import launch_new_instance\nlaunch_new_instance()\n"
    )
    _kernelspec(tmp_path, "slow", [sys.executable, str(slow), "-f", "{connection_file}"])
    _kernelspec(tmp_path, "dead", [sys.executable, "-c", "raise SystemExit(3)"])
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    path = write_notebook(project.root / "k.ipynb", None, "print('first output')", "1 + 1")

    result = mlops("run", "k.ipynb", "--kernel", "slow", "--output", "out.ipynb")
    assert result.returncode == 0, result.stderr
    cells = json.loads((project.root / "out.ipynb").read_text())["cells"]
    assert cells[0]["outputs"][0]["text"] == ["first output\n"]
    assert "KeyboardInterrupt" not in result.stderr

    failed = mlops_api.run_notebook(path, kernel="dead")
    assert not failed.ok and failed.error.kind == "start"
    assert "Kernel died before replying to kernel_info" in failed.error.message


def test_missing_kernel_falls_back_with_a_warning(project):
    path = write_notebook(project.root / "k.ipynb", "x = 1", "y = x", kernel="conda-env-gone-py")
    with pytest.warns(KernelFallbackWarning, match="'conda-env-gone-py' is not installed"):
        result = mlops_api.run_notebook(path)
    assert result.ok and result.kernel == "python3"
    assert "not installed" in mlops_api.get_run(result.run_id).tags["mlops.warnings"]


def test_secret_parameters_never_reach_the_stored_notebook(project, monkeypatch):
    monkeypatch.setenv("SERVICE_TOKEN", "tok-123456-secret")
    path = write_notebook(
        project.root / "s.ipynb",
        "token = ''  # secret: SERVICE_TOKEN\nn = 1",
        "print('using', token, n)",
    )
    result = mlops_api.run_notebook(path, {"n": 2})
    assert result.ok
    run = mlops_api.get_run(result.run_id)
    assert run.params == {"token": "env:SERVICE_TOKEN", "n": 2}
    for artifact in run.artifacts:
        assert b"tok-123456-secret" not in project.blobs.get_bytes(artifact.digest)
    stdout = next(a for a in run.artifacts if a.path == "stdout.txt")
    assert project.blobs.get_bytes(stdout.digest) == b"using [secret] 2\n"


def test_run_notebook_inside_a_running_notebook(project):
    inner = write_notebook(
        project.root / "inner.ipynb", "k = 1", "import mlops_nb as mlops\nmlops.log_metric('k', k)"
    )
    outer = write_notebook(
        project.root / "outer.ipynb",
        None,
        "import asyncio, mlops_nb as mlops\n"
        "asyncio.get_event_loop().is_running()",  # papermill's classic failure case
        f"r = mlops.run_notebook({str(inner)!r}, {{'k': 7}})\n"
        "assert r.ok, r.error\n"
        "mlops.log_metric('inner_k', r.metrics['k'])",
    )
    result = mlops_api.run_notebook(outer)
    assert result.ok, result.error and result.error.details()
    assert result.metrics == {"inner_k": 7.0}
    children = mlops_api.get_run(result.run_id).children
    assert len(children) == 1 and children[0].status == "finished"
    assert children[0].metrics == {"k": 7.0}


def test_cli_run_json_and_parameters_file(project):
    write_notebook(project.root / "train.ipynb", "lr = 0.1\nname = 'base'", *TRAIN)
    (project.root / "params.yaml").write_text("lr: 0.5\nname: from-file\n")
    result = mlops(
        "run", "train.ipynb", "-f", "params.yaml", "-r", "name", "007", "--json", "-e", "cli"
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] and report["metrics"]["auc"] == 1.0
    run = mlops_api.get_run(report["run_id"])
    assert run.params == {"lr": 0.5, "name": "007"} and run.experiment == "cli"
    assert "cell 1/" in result.stderr  # a line per cell in logs
    assert os.environ.get("MLOPS_RUN_ID") is None


def test_cells_tagged_skip_execution_and_empty_cells_are_left_out(project):
    path = write_notebook(project.root / "explore.ipynb", None, "x = 1", "", "raise SystemExit")
    nb = nbformat.read(path, as_version=4)
    nb.cells[2].metadata.tags = ["skip-execution"]  # exploration only
    nbformat.write(nb, path)
    result = mlops("run", "explore.ipynb", "--json")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("cell ")]
    assert [line.split()[1:3] for line in lines] == [["1/1", "ok"]]  # the count adds up
    run = mlops_api.get_run(json.loads(result.stdout)["run_id"])
    assert run.reproducible is True, run.reproducibility_notes  # not "cell 3 never ran"


def test_headless_runs_record_cell_history_without_load_ext_noise(project):
    path = write_notebook(
        project.root / "magic.ipynb",
        "x = 1",
        "%load_ext mlops_nb\n%mlops track ignored-name",
        "%mlops log x",
        "y = x * 2",
    )
    output = project.root / "out.ipynb"
    result = mlops_api.run_notebook(path, {"x": 3}, output=output)
    assert result.ok and result.metrics == {"x": 3.0}
    run = mlops_api.get_run(result.run_id)
    assert run.reproducible is True
    assert len(run.cells) == 5  # parameters, injected parameters and the three cells
    executed = output.read_text()
    assert "already loaded" not in executed
