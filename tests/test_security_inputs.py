"""Bad input through the public API and the CLI: the failure classes MLflow and Jupyter
shipped CVEs for (see the security anchors), each with a SENTINEL file outside the store
that an attack would read, overwrite or create.

Pass: a clear ``UsageError`` (exit code 2 on the CLI), or a harmless literal; the SENTINEL is
never read into the store, written or created; stored data stays intact.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import sqlalchemy as sa
from test_pipelines_support import write_notebook

import mlops_nb as mlops
from mlops_nb.errors import IntegrityError, MlopsError, NotFoundError, UsageError
from mlops_nb.names import check_relative_path
from mlops_nb.store import schema

SECRET = b"SENTINEL: must never be read into the store"


@pytest.fixture
def sentinel(tmp_path) -> Path:
    path = tmp_path / "outside" / "SENTINEL"
    path.parent.mkdir()
    path.write_bytes(SECRET)
    return path


def traversal_corpus(sentinel: Path) -> list[str]:
    """Path-like attacks: relative and absolute traversal, encodings, separators, unicode."""
    return [
        "../SENTINEL",
        "../../outside/SENTINEL",
        "a/../../outside/SENTINEL",
        str(sentinel),
        "..\\..\\outside\\SENTINEL",
        "%2e%2e/%2e%2e/outside/SENTINEL",
        "..%2f..%2foutside%2fSENTINEL",
        "%252e%252e%252fSENTINEL",
        "....//....//SENTINEL",
        "a;/../../SENTINEL",
        "\uff0e\uff0e/\uff0e\uff0e/outside/SENTINEL",  # fullwidth dots: '..' after NFKC
        "\u2025/SENTINEL",  # two-dot leader
        "..\u2215..\u2215SENTINEL",  # division slash
        "a\x00/../../SENTINEL",
        "C:\\outside\\SENTINEL",
        "\\\\attacker\\share\\x",
        "\\\\?\\C:\\x",
        "~/SENTINEL",
        f"file://{sentinel}",
        "//proc/self/environ",
        "",
        ".",
        "a//b",
    ]


def _stored_bytes(project) -> list[bytes]:
    return [project.blobs.get_bytes(d, verify=False) for d in project.blobs.iter_digests()]


# --- names and paths -----------------------------------------------------------------------


def test_artifact_names_never_leave_their_root(project, sentinel, tmp_path):
    root = (tmp_path / "materialized").resolve()
    with mlops.start_run():
        for name in traversal_corpus(sentinel):
            try:
                stored = mlops.log_artifact(b"payload", name)
            except UsageError:
                continue
            # Accepted names are plain relative paths: joined to any folder, they stay in it.
            assert (root / check_relative_path(stored)).resolve().is_relative_to(root), name
    assert sentinel.read_bytes() == SECRET


@pytest.mark.parametrize("kind", ["dataset", "model", "alias"])
def test_dataset_model_and_alias_names_refuse_every_traversal(project, sentinel, kind):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit([[0], [1]], [0, 1])
    if kind == "alias":
        mlops.register_model(model, "ok", metrics={"auc": 1.0})
    for name in traversal_corpus(sentinel):
        with pytest.raises(UsageError):
            if kind == "dataset":
                mlops.snapshot(pd.DataFrame({"a": [1]}), name)
            elif kind == "model":
                mlops.register_model(model, name, metrics={"auc": 1.0})
            else:
                mlops.promote("ok@1", to=name, reason="attack")
        for ref in (name, f"{name}@1", f"ok@{name}"):
            with pytest.raises(UsageError):
                mlops.load_dataset(ref) if kind == "dataset" else mlops.load_model(ref)
    assert sentinel.read_bytes() == SECRET
    assert SECRET not in _stored_bytes(project)


@pytest.mark.parametrize("entry", ["artifact", "snapshot"])
@pytest.mark.parametrize(
    "link",
    ["file", "folder"],
)
def test_symlinks_leading_out_of_a_logged_folder_are_refused(project, sentinel, entry, link):
    folder = project.root / "data"
    folder.mkdir()
    (folder / "inside.csv").write_text("a\n1\n")
    target = sentinel if link == "file" else sentinel.parent
    (folder / "escape").symlink_to(target, target_is_directory=link == "folder")
    with mlops.start_run(), pytest.raises(UsageError, match="outside"):
        mlops.log_artifact(folder) if entry == "artifact" else mlops.snapshot(folder, "data")
    assert SECRET not in _stored_bytes(project)


def test_a_symlink_staying_inside_the_folder_is_stored_as_its_content(project):
    folder = project.root / "data"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "real.csv").write_text("a\n1\n")
    (folder / "alias.csv").symlink_to(folder / "sub" / "real.csv")
    version = mlops.snapshot(folder, "data")
    restored = mlops.load_dataset(version.ref)
    assert (restored / "alias.csv").read_text() == "a\n1\n"


def test_a_model_manifest_naming_a_path_outside_is_refused(project, sentinel, tmp_path):
    """Someone with write access to the store crafts a version whose manifest (with a
    matching digest) names ``../../`` paths: loading refuses before writing anything."""
    from sklearn.linear_model import LogisticRegression

    mlops.register_model(LogisticRegression().fit([[0], [1]], [0, 1]), "m", metrics={"a": 1.0})
    blob = project.blobs.put_bytes(b"overwrite")
    for path in ("../../../outside/SENTINEL", str(sentinel), "..\\..\\SENTINEL"):
        manifest = {"files": [{"path": path, "digest": blob, "size": 9}], "flavor": "file"}
        digest = project.blobs.put_bytes(json.dumps({**manifest, "format": 1}).encode())
        with project.db.write() as conn:
            conn.execute(sa.update(schema.model_versions).values(digest=digest, flavor="file"))
        with pytest.raises(MlopsError):
            mlops.load_model("m@1")
    assert sentinel.read_bytes() == SECRET


# --- SQL metacharacters --------------------------------------------------------------------

SQL = ["'; DROP TABLE runs; --", "' OR '1'='1", '" OR 1=1 --', "%", "_", "\\", "a'b\"c"]


def test_sql_metacharacters_in_names_tags_params_and_filters_are_just_text(any_project):
    values = SQL
    with mlops.start_run("plain", experiment="plain"):
        pass
    for i, value in enumerate(values):
        with mlops.start_run(value, experiment=f"exp {value}", tags={"t": value}):
            mlops.log_params({"p": value, "i": i})
    frame = mlops.runs()
    assert len(frame) == len(values) + 1
    assert sorted(frame["name"]) == sorted([*values, "plain"])
    for i, value in enumerate(values):
        found = mlops.runs(experiment=f"exp {value}")
        assert list(found["params.i"]) == [i]
        quoted = json.dumps(value)
        assert list(mlops.runs(filter=f"params.p == {quoted}")["params.i"]) == [i]
        assert list(mlops.runs(filter=f"tags.t == {quoted}")["params.i"]) == [i]
        assert list(mlops.runs(filter=f"name == {quoted}")["params.i"]) == [i]
    assert mlops.runs(experiment="%").empty and mlops.runs(filter="name == '%%'").empty
    with pytest.raises(UsageError):
        mlops.runs(filter="name == 'x' or 1 == 1")
    for run_id in [*SQL, "1 OR 1=1", "abcdef' --"]:
        with pytest.raises(NotFoundError):
            mlops.get_run(run_id)
    with any_project.db.read() as conn:
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(schema.runs)).scalar()
            == len(values) + 1
        )


BAD_TEXT = {"NUL": "a\x00b", "oversized": "x" * 6000}  # names: 255, tag values: 5000


@pytest.mark.parametrize("what", ["name", "experiment", "tag"])
@pytest.mark.parametrize("text", BAD_TEXT.values(), ids=BAD_TEXT.keys())
def test_unstorable_text_is_refused_and_later_runs_still_work(any_project, what, text):
    with pytest.raises(UsageError):
        if what == "name":
            mlops.start_run(text)
        elif what == "experiment":
            mlops.start_run("x", experiment=text)
        else:
            mlops.start_run("x", tags={"t": text})
    with mlops.start_run("after") as run:
        pass
    assert mlops.get_run(run.run_id).status == "finished"


def test_sql_metacharacters_on_the_cli_are_usage_errors(project):
    for args in (
        ["runs", "ls", "--filter", "name == 'x' or 1 == 1"],
        ["runs", "show", "' OR '1'='1"],
        ["models", "show", "x'; DROP TABLE model_versions; --"],
        ["data", "show", "train' OR 1=1 --"],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "mlops_nb.cli", *args], capture_output=True, text=True
        )
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr and result.stderr.startswith("error:")


# --- YAML ----------------------------------------------------------------------------------

PYTHON_TAGS = [
    '!!python/object/apply:os.system ["touch {marker}"]',
    "!!python/object/apply:subprocess.check_output [[touch, {marker}]]",
    "!!python/object/new:type [x, [], {{}}]",
    "!!python/name:os.system",
]


@pytest.mark.parametrize("payload", PYTHON_TAGS)
def test_yaml_with_python_tags_is_refused_everywhere(project, tmp_path, payload):
    marker = tmp_path / "PWNED"
    value = payload.format(marker=marker)
    write_notebook(project.root / "nb.ipynb", "x = 1", "print(x)")
    files = {
        "pipeline.yaml": f"steps:\n  a:\n    notebook: nb.ipynb\n    parameters: {{x: {value}}}\n",
        "grid.yaml": f"x: {value}\n",
        "params.yaml": f"x: {value}\n",
    }
    for name, text in files.items():
        (project.root / name).write_text(text)
    commands = [
        ["pipeline", "run", "pipeline.yaml"],
        ["sweep", "nb.ipynb", "-f", "grid.yaml"],
        ["run", "nb.ipynb", "-f", "params.yaml"],
    ]
    for args in commands:
        result = subprocess.run(
            [sys.executable, "-m", "mlops_nb.cli", *args], capture_output=True, text=True
        )
        assert result.returncode == 2, (args, result.stderr)
    (project.root / "mlops.yaml").write_text(f"store:\n  uri: {value}\n")
    result = subprocess.run(
        [sys.executable, "-m", "mlops_nb.cli", "runs", "ls"], capture_output=True, text=True
    )
    assert result.returncode == 2 and "mlops.yaml" in result.stderr
    assert not marker.exists()


# --- notebook parameters -------------------------------------------------------------------

INJECTIONS = [
    '"; import os; os.system("touch {marker}") #',
    "'''; import os; os.system('touch {marker}'); '''",
    "x\nimport os\nos.system('touch {marker}')",
    "\\'); __import__('os').system('touch {marker}') #",
]


def test_parameter_values_cannot_inject_code_into_the_parameters_cell(project, tmp_path):
    marker = tmp_path / "PWNED"
    attacks = {f"a{i}": attack.format(marker=marker) for i, attack in enumerate(INJECTIONS)}
    path = write_notebook(
        project.root / "echo.ipynb",
        "\n".join(f"{name} = 'safe'" for name in attacks) + "\nnested = {}",
        "print(repr([" + ", ".join(attacks) + ", nested]))",
    )
    nested = {"k": attacks["a0"], attacks["a1"][:20]: [attacks["a2"]]}
    output = tmp_path / "out.ipynb"
    result = mlops.run_notebook(path, parameters={**attacks, "nested": nested}, output=output)
    assert result.ok, result.error
    executed = nbformat.read(output, as_version=4)
    injected = next(
        c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])
    )
    tree = ast.parse(injected.source)
    assigned = {}
    for node in tree.body:  # assignments of literals, nothing else
        assert isinstance(node, ast.Assign) and len(node.targets) == 1
        assigned[node.targets[0].id] = ast.literal_eval(node.value)
    assert assigned == {**attacks, "nested": nested}
    printed = executed.cells[-1].outputs[0]["text"].strip()
    assert ast.literal_eval(printed) == [*attacks.values(), nested]
    assert not marker.exists()


@pytest.mark.parametrize("key", ["__import__('os')", "a=1;b", "import", "text\n", "1x", ""])
def test_parameter_names_that_are_not_identifiers_are_refused(project, key):
    path = write_notebook(project.root / "p.ipynb", "text = 'safe'", "print(text)")
    with pytest.raises(UsageError):
        mlops.run_notebook(path, parameters={key: 1})
    assert mlops.runs().empty  # refused before any run or kernel started


# --- models --------------------------------------------------------------------------------


class _Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickled_models_run_nothing_unless_trusted(project, tmp_path):
    marker = tmp_path / "PWNED"
    with pytest.raises(UsageError, match="trusted=True"):
        mlops.register_model(_Payload(marker), "evil")
    mlops.register_model(_Payload(marker), "evil", trusted=True)
    with pytest.raises(UsageError, match="runs code"):
        mlops.load_model("evil@1")
    assert not marker.exists()


def test_a_model_blob_swapped_on_disk_is_refused(project):
    from sklearn.linear_model import LogisticRegression

    from mlops_nb.store import gc

    good = LogisticRegression().fit([[0], [1]], [0, 1])
    bad = LogisticRegression().fit([[0], [1]], [1, 0])
    mlops.register_model(good, "good", metrics={"a": 1.0})
    mlops.register_model(bad, "bad", metrics={"a": 0.0})
    refs = gc.references(project).required
    file_of = {o: d for d, o in refs.items() if o.startswith("part of model")}
    good_file = project.blobs.local_path(file_of["part of model good@1"])
    good_file.write_bytes(project.blobs.local_path(file_of["part of model bad@1"]).read_bytes())
    with pytest.raises(IntegrityError):
        mlops.load_model("good@1")
