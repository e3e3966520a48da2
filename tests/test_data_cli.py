"""``mlops data ...`` driven as a subprocess: output, --json and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd

import mlops_nb as mlops


def cli(project, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLOPS_HOME": str(project.root), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "mlops_nb.cli", "data", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=project.root,
    )


def test_snapshot_ls_show_and_diff(project, tmp_path):
    source = tmp_path / "raw.csv"
    source.write_text("a,b\n1,2\n")
    done = cli(project, "snapshot", str(source), "--name", "raw", "--description", "first")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("raw@1 file 8 bytes")
    source.write_text("a,b\n1,3\n")
    created = json.loads(cli(project, "snapshot", str(source), "-n", "raw", "--json").stdout)
    assert (created["ref"], created["kind"], created["size"]) == ("raw@2", "file", 8)

    mlops.snapshot(pd.DataFrame({"id": [1, 2, 3], "x": [1.0, 2.0, 3.0]}), "train")
    mlops.snapshot(pd.DataFrame({"id": [1, 2, 4], "x": [1.0, 2.5, 4.0]}), "train")
    listed = json.loads(cli(project, "ls", "--json").stdout)
    assert [(r["name"], r["version"]) for r in listed] == [
        ("raw", 1),
        ("raw", 2),
        ("train", 1),
        ("train", 2),
    ]
    table = cli(project, "ls", "train")
    assert table.returncode == 0 and "2 dataset versions" in table.stdout

    shown = json.loads(cli(project, "show", "train@1", "--json").stdout)
    assert shown["ref"] == "train@1" and shown["profile"]["columns"]["x"]["max"] == 3.0
    assert shown["data_checks"] == {
        "passed": None,
        "summary": "no data checks recorded for this dataset version",
    }
    human = cli(project, "show", "train")
    assert human.returncode == 0 and "train@2" in human.stdout and "profile" in human.stdout

    keyed = json.loads(cli(project, "diff", "train@1", "train@2", "--key", "id", "--json").stdout)
    assert (keyed["rows_changed"], keyed["rows_added"], keyed["rows_removed"]) == (1, 1, 1)
    assert keyed["changed_columns"] == {"x": 1}
    text = cli(project, "diff", "train@1", "train")
    assert text.returncode == 0
    assert text.stdout.splitlines()[0] == "train@1 -> train@2: +2 -2 rows, 1 unchanged"
    files = json.loads(cli(project, "diff", "raw@1", "raw@2", "--json").stdout)
    assert files["files_changed"] == ["raw.csv"]


def test_exit_codes(project, tmp_path):
    mlops.snapshot(pd.DataFrame({"age": [10, 200]}), "people")
    missing = cli(project, "show", "people@5")
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        "error: dataset 'people' has no version 5; versions are 1 to 1 (see `mlops data ls people`)"
    )
    assert cli(project, "show", "nobody").returncode == 2
    assert cli(project, "snapshot", str(tmp_path / "absent"), "--name", "x").returncode == 2
    assert cli(project, "snapshot", __file__, "--name", "a/b").returncode == 2
    (project.root / "mlops.yaml").write_text(
        "checks:\n  people:\n    columns:\n      age: {max: 120}\n"
    )
    failed = cli(project, "check", "people", "--json")
    assert failed.returncode == 1
    assert json.loads(failed.stdout)["passed"] is False
    assert "1 of 1 data checks failed: max(age) 1 rows" in failed.stderr
    (project.root / "mlops.yaml").write_text(
        "checks:\n  people:\n    columns:\n      age: {max: 250}\n"
    )
    assert cli(project, "check", "people").returncode == 0
    shown = json.loads(cli(project, "show", "people", "--json").stdout)
    assert shown["data_checks"]["passed"] is True
