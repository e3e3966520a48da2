"""Model registry core: registration, flavors, references, loading, integrity, listing."""

from __future__ import annotations

import json
import pickle
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mlops_nb as mlops
from mlops_nb.config import load_config
from mlops_nb.errors import IntegrityError, NotFoundError, UsageError
from mlops_nb.project import Project
from mlops_nb.registry import api
from mlops_nb.registry import manifest as manifests
from mlops_nb.registry.flavors import UntrustedModelError

# --- helpers shared by the other registry test modules -------------------------------------


def fit_model(seed: int = 0, frame: bool = False):
    """A small fitted LogisticRegression (on a DataFrame with named columns if ``frame``)."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.RandomState(seed)
    X = rng.rand(40, 3)
    y = (X[:, 0] + 0.1 * rng.rand(40) > 0.5).astype(int)
    if frame:
        X = pd.DataFrame(X, columns=["age", "income", "tenure"])
    return LogisticRegression().fit(X, y), X


def set_config(project, text: str) -> None:
    """Write ``mlops.yaml`` and make the open project (and the fixture's handle) use it."""
    (project.root / "mlops.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    for handle in (project, Project.find()):
        handle.config = load_config(project.root)


def register(name: str = "churn", seed: int = 0, **metrics: float):
    """Register a fitted model with explicit metrics, outside any run."""
    model, _ = fit_model(seed)
    return mlops.register_model(model, name, metrics=metrics or None)


def actions(name: str | None = None) -> list[str]:
    return list(mlops.audit(name)["action"])


class Pickled:
    """A plain object only the pickle flavor can store."""

    def __init__(self, value: int):
        self.value = value


class Booby:
    """Unpickling this writes a marker file: what a malicious pickle would do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "pwned"))


def double(x):
    return x * 2


# --- registration and lineage ---------------------------------------------------------------


def test_register_in_run_records_lineage_and_loads_back(any_project, monkeypatch):
    monkeypatch.setenv("MLOPS_USER", "alice")
    model, X = fit_model(frame=True)
    with mlops.start_run("train", experiment="churn") as run:
        mlops.log_metrics(auc=0.91, f1=0.8)
        mv = mlops.register_model(model, "churn", description="first cut")
    assert (mv.name, mv.version, mv.ref, mv.flavor) == ("churn", 1, "churn@1", "sklearn")
    assert mv.run_id == run.run_id
    assert mv.metrics == {"auc": 0.91, "f1": 0.8}
    assert mv.created_by == "alice"
    assert mv.description == "first cut"
    assert mv.signature == {"inputs": [{"name": "age"}, {"name": "income"}, {"name": "tenure"}]}
    assert {"python", "scikit-learn", "numpy", "scipy", "skops"} <= set(mv.requirements)
    import sklearn

    assert mv.requirements["scikit-learn"] == sklearn.__version__
    assert len(mv.digest) == 64
    for ref in ("churn@1", "churn", "churn@latest", "churn@v1"):
        loaded = mlops.load_model(ref)
        assert (loaded.predict(X) == model.predict(X)).all()
    assert actions("churn") == ["register"]


def test_versions_count_up_and_rerunning_a_cell_does_not_duplicate(any_project):
    model, _ = fit_model(0)
    with mlops.start_run():
        first = mlops.register_model(model, "churn")
        again = mlops.register_model(fit_model(0)[0], "churn")  # same bytes, same run
        other = mlops.register_model(fit_model(1)[0], "churn")
    assert (first.version, again.version, other.version) == (1, 1, 2)
    assert again.digest == first.digest != other.digest
    with mlops.start_run():
        assert mlops.register_model(model, "churn").version == 3  # a new run is new lineage
    assert actions("churn") == ["register"] * 3


def test_identical_models_get_identical_digests():
    from mlops_nb.registry.flavors import pack

    digests = {pack(fit_model(7)[0]).files[0][1] for _ in range(3)}
    assert len(digests) == 1


def test_skops_bytes_equal_the_canonical_skops_round_trip():
    import skops.io
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    from mlops_nb.registry.canonical import canonical_skops, skops_bytes

    model, X = fit_model(3)
    y = model.predict(X)
    shared = StandardScaler().fit(X)
    for obj in (
        model,
        make_pipeline(StandardScaler(), model),
        RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y),
        make_pipeline(FunctionTransformer(np.log1p), shared, shared),
    ):
        data, signature = skops_bytes(obj)
        assert (data, signature) == canonical_skops(skops.io.dumps(obj))
        assert skops.io.loads(data, trusted=skops.io.get_untrusted_types(data=data)) is not None


def test_explicit_metrics_win_and_are_validated(project):
    model, _ = fit_model()
    with mlops.start_run():
        mlops.log_metric("auc", 0.5)
        mv = mlops.register_model(model, "churn", metrics={"auc": np.float64(0.93)})
    assert mv.metrics == {"auc": 0.93}
    with pytest.raises(UsageError, match="must be a number"):
        mlops.register_model(model, "churn", metrics={"auc": "high"})
    with pytest.raises(UsageError, match="mapping"):
        mlops.register_model(model, "churn", metrics=[0.9])


def test_register_outside_a_run_has_no_run_and_no_metrics(project):
    mv = register()
    assert mv.run_id is None and mv.metrics == {} and mv.datasets == []


def test_signature_from_a_training_dataframe_or_names(project):
    model, X = fit_model(frame=True)
    mv = mlops.register_model(model, "churn", signature=X)
    assert mv.signature["inputs"][0] == {"name": "age", "type": "float64"}
    mv = mlops.register_model(fit_model(1)[0], "churn", signature=["a", "b", "c"])
    assert [c["name"] for c in mv.signature["inputs"]] == ["a", "b", "c"]
    with pytest.raises(UsageError, match="signature must be"):
        mlops.register_model(model, "churn", signature=42)


@pytest.mark.parametrize("name", ["", "../x", "a/b", "a@b", "with space", 7])
def test_bad_model_names_are_refused(project, name):
    with pytest.raises(UsageError, match="model name"):
        mlops.register_model(fit_model()[0], name)


def test_datasets_the_run_read_are_recorded(project):
    pytest.importorskip("mlops_nb.data.lineage")
    frame = pd.DataFrame({"x": [1, 2, 3], "y": [0, 1, 0]})
    with mlops.start_run():
        train = mlops.snapshot(frame, "train")
        mv = mlops.register_model(fit_model()[0], "churn")
    assert [(d["name"], d["version"], d["digest"]) for d in mv.datasets] == [
        ("train", train.version, train.digest)
    ]
    assert mlops.audit("churn")["details"][0]["datasets"] == [
        {"ref": train.ref, "digest": train.digest}
    ]


# --- flavors --------------------------------------------------------------------------------


def test_file_and_folder_flavors_give_back_verified_paths(any_project, tmp_path):
    weights = tmp_path / "model.onnx"
    weights.write_bytes(b"\x08\x01onnx-bytes")
    folder = tmp_path / "bundle"
    (folder / "sub").mkdir(parents=True)
    (folder / "config.json").write_text('{"layers": 2}')
    (folder / "sub" / "weights.bin").write_bytes(bytes(range(256)))
    file_version = mlops.register_model(weights, "encoder")
    folder_version = mlops.register_model(str(folder), "bundle")
    assert (file_version.flavor, folder_version.flavor) == ("file", "folder")
    path = mlops.load_model("encoder@1")
    assert path.name == "model.onnx" and path.read_bytes() == weights.read_bytes()
    loaded = mlops.load_model("bundle")
    assert (loaded / "config.json").read_text() == '{"layers": 2}'
    assert (loaded / "sub" / "weights.bin").read_bytes() == bytes(range(256))
    (loaded / "config.json").write_text("edited by hand")  # a changed copy is rebuilt
    assert (mlops.load_model("bundle") / "config.json").read_text() == '{"layers": 2}'


def test_missing_path_and_empty_folder_are_refused(project, tmp_path):
    with pytest.raises(UsageError, match="no file or folder"):
        mlops.register_model(str(tmp_path / "nope.bin"), "m")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="empty"):
        mlops.register_model(tmp_path / "empty", "m")


def test_pickle_needs_trust_to_register_and_to_load(project):
    with pytest.raises(UsageError, match="trusted=True") as refused:
        mlops.register_model(Pickled(3), "custom")
    assert "runs code" in str(refused.value)
    mv = mlops.register_model(Pickled(3), "custom", trusted=True)
    assert mv.flavor == "pickle"
    with pytest.raises(UntrustedModelError, match="runs code") as exc:
        mlops.load_model("custom@1")
    assert len(str(exc.value).splitlines()) == 1
    assert exc.value.exit_code == 2
    assert mlops.load_model("custom@1", trusted=True).value == 3
    assert actions("custom") == ["register", "unsafe_load"]


def test_a_malicious_pickle_never_runs_without_trust(project, tmp_path):
    marker = tmp_path / "marker"
    mlops.register_model(Booby(marker), "evil", trusted=True)
    with pytest.raises(UntrustedModelError):
        mlops.load_model("evil")
    assert not marker.exists()


def test_sklearn_objects_skops_cannot_trust_need_pickle(project):
    from sklearn.preprocessing import FunctionTransformer

    transformer = FunctionTransformer(double).fit(np.ones((3, 2)))
    with pytest.raises(UsageError, match=r"test_registry\.double") as exc:
        mlops.register_model(transformer, "fn")
    assert "trusted=True" in str(exc.value)
    assert mlops.register_model(transformer, "fn", trusted=True).flavor == "pickle"


def test_tree_models_round_trip_with_the_pinned_trusted_types(project):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    _, X = fit_model()
    y = (X[:, 1] > 0.5).astype(int)
    for model in (
        make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=3, random_state=0)),
        KNeighborsClassifier(n_neighbors=3),
    ):
        model.fit(X, y)
        mv = mlops.register_model(model, "trees")
        assert mv.flavor == "sklearn"
        assert (mlops.load_model(mv.ref).predict(X) == model.predict(X)).all()


def test_trusted_types_come_from_code_not_from_the_file(project, monkeypatch):
    from mlops_nb.registry import flavors

    model = register(seed=0)
    from sklearn.tree import DecisionTreeClassifier

    _, X = fit_model()
    tree = mlops.register_model(DecisionTreeClassifier().fit(X, X[:, 0] > 0.5), "tree")
    monkeypatch.setattr(flavors, "TRUSTED_TYPES", frozenset())  # a stricter reviewed list
    with pytest.raises(UntrustedModelError, match=r"sklearn\.tree\._tree\.Tree"):
        mlops.load_model(tree.ref)
    assert mlops.load_model(model.ref) is not None  # needs nothing beyond skops' defaults


def test_a_full_disk_records_nothing_and_a_retry_succeeds(project, monkeypatch):
    import errno
    import os

    from mlops_nb.errors import StoreError

    register()

    def disk_full(_fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(os, "fsync", disk_full)
        with pytest.raises(StoreError, match="no space left"):
            mlops.register_model(fit_model(1)[0], "churn")
    assert list(mlops.models()["version"]) == [1] and actions() == ["register"]
    retried = mlops.register_model(fit_model(1)[0], "churn")
    assert retried.version == 2 and mlops.load_model("churn@2") is not None


# --- references and errors --------------------------------------------------------------------


def test_unknown_models_versions_and_aliases_say_what_exists(project):
    register()
    register(seed=1)
    with pytest.raises(NotFoundError, match="no model named 'nope'"):
        mlops.load_model("nope")
    with pytest.raises(NotFoundError, match="no version 9 \\(latest is 2\\)"):
        mlops.load_model("churn@9")
    with pytest.raises(NotFoundError, match="holds alias 'production'; it has no aliases yet"):
        mlops.load_model("churn@production")
    mlops.promote("churn", 1, to="staging")
    with pytest.raises(NotFoundError, match="its aliases are staging"):
        mlops.load_model("churn@production")
    with pytest.raises(NotFoundError, match="no model named"):
        mlops.models("nope")


@pytest.mark.parametrize("ref", ["churn@", "@3", "a@b@c", "chu rn", "churn@v0", "churn@0", 3, None])
def test_malformed_references_are_usage_errors(project, ref):
    with pytest.raises(UsageError, match="not valid"):
        mlops.load_model(ref)


@pytest.mark.parametrize("alias", ["latest", "3", "v2", "prod/x", "", "a..b", "@x"])
def test_bad_or_reserved_aliases_are_refused(project, alias):
    register()
    with pytest.raises(UsageError, match="alias"):
        mlops.promote("churn", 1, to=alias)


# --- integrity --------------------------------------------------------------------------------


def _model_blob(project, mv) -> Path:
    manifest = manifests.read(project.blobs, mv.flavor, mv.digest)
    return project.blobs.local_path(manifest.files[0].digest)


def _flip_byte(path: Path, offset: int = 100) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_tampered_model_blob_is_refused_before_deserializing(any_project):
    mv = register()
    _flip_byte(_model_blob(any_project, mv))
    with pytest.raises(IntegrityError, match="does not match its digest"):
        mlops.load_model("churn@1")
    trail = mlops.audit("churn")
    assert list(trail["action"]) == ["register", "integrity_failure"]
    assert trail["details"].iloc[-1]["digest"] == mv.digest


def test_a_tampered_manifest_or_folder_file_is_refused(project, tmp_path):
    (tmp_path / "bundle").mkdir()
    (tmp_path / "bundle" / "weights.bin").write_bytes(b"weights")
    mv = mlops.register_model(tmp_path / "bundle", "bundle")
    manifest = manifests.read(project.blobs, mv.flavor, mv.digest)
    _flip_byte(project.blobs.local_path(manifest.files[0].digest), offset=0)
    with pytest.raises(IntegrityError):
        mlops.load_model("bundle")
    path = project.blobs.local_path(mv.digest)
    body = json.loads(path.read_bytes())
    body["files"][0]["path"] = "../escape.bin"
    path.write_bytes(json.dumps(body).encode())
    with pytest.raises(IntegrityError):
        mlops.load_model("bundle")
    assert not (project.state_dir / "escape.bin").exists()


def test_a_registry_row_changed_to_another_flavor_is_refused(project):
    import sqlalchemy as sa

    from mlops_nb.store import schema

    register()
    with project.db.write() as conn:
        conn.execute(sa.update(schema.model_versions).values(flavor="pickle"))
    with pytest.raises(IntegrityError, match="is for a 'sklearn' model, not 'pickle'"):
        mlops.load_model("churn", trusted=True)


def test_a_tampered_pickle_does_not_run(project, tmp_path):
    marker = tmp_path / "marker"
    mv = mlops.register_model(Pickled(1), "custom", trusted=True)
    _model_blob(project, mv).write_bytes(pickle.dumps(Booby(marker)))
    with pytest.raises(IntegrityError):
        mlops.load_model("custom", trusted=True)
    assert not marker.exists()


# --- listing and cards ------------------------------------------------------------------------


def test_models_frame_has_one_row_per_version(any_project):
    register("churn", 0, auc=0.9)
    register("churn", 1, auc=0.95, f1=0.7)
    register("fraud", 2, recall=0.5)
    mlops.promote("churn", 2, to="production")
    mlops.promote("churn", 2, to="champion")
    frame = mlops.models()
    assert list(frame.columns) == [
        "name",
        "version",
        "aliases",
        "flavor",
        "digest",
        "run_id",
        "created_by",
        "created_at",
        "metrics.auc",
        "metrics.f1",
        "metrics.recall",
    ]
    assert list(zip(frame["name"], frame["version"], strict=True)) == [
        ("churn", 1),
        ("churn", 2),
        ("fraud", 1),
    ]
    assert list(frame["aliases"]) == [[], ["champion", "production"], []]
    assert frame["metrics.f1"].isna().tolist() == [True, False, True]
    assert str(frame["created_at"].dt.tz) == "UTC"
    assert len(mlops.models("fraud")) == 1
    assert mlops.models().shape[0] == 3 and api.models("churn").shape[0] == 2


def test_empty_registry_lists_nothing(project):
    frame = mlops.models()
    assert frame.empty and "metrics.auc" not in frame.columns and "name" in frame.columns


def test_model_card_in_every_format(project):
    model, _ = fit_model()
    with mlops.start_run("train", notebook_path="train.ipynb") as run:
        mlops.log_metrics(auc=0.9)
        mlops.register_model(model, "churn", description="<script>alert(1)</script>")
    mlops.promote("churn", 1, to="staging", reason="first")
    mv = api.get_model_version("churn@staging")
    text = mv.card()
    for expected in (
        "churn@1",
        run.run_id,
        "train.ipynb",
        "auc",
        "0.9",
        "staging",
        "first",
        "scikit-learn",
    ):
        assert expected in text
    markdown = mv.card("markdown")
    assert markdown.startswith("# Model card: churn@1") and "| auc | 0.9 |" in markdown
    html = mv.card("html")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert mv._repr_html_() == html
    data = json.loads(mv.card("json"))
    assert data["lineage"]["run"]["notebook"] == "train.ipynb"
    assert data["promotions"][0]["alias"] == "staging"
    assert data["files"][0]["path"] == "model.skops"
    with pytest.raises(UsageError, match="format"):
        mv.card("pdf")
