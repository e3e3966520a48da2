"""REST API of the Jupyter server extension (auth, runs, artifacts), on a real jupyter_server."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from support.jupyter import *  # noqa: F403 - pytest-jupyter fixtures for this module
from support.jupyter import error_body, session_cookies
from support.seed import seed_runs

import mlops_nb
from mlops_nb.tracking.artifacts import log_artifact
from mlops_nb.tracking.runs import Run, create_run, end_run

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def seeded(project):
    return seed_runs(project)


# --- handshake --------------------------------------------------------------------------


def test_version_handshake_names_the_package_version(api, project):
    body = api.json("version")
    assert body == {"version": mlops_nb.__version__, "api": 1, "project": str(project.root)}


def test_frontend_declares_the_same_version():
    package = json.loads((REPO / "labextension" / "package.json").read_text())
    source = (REPO / "labextension" / "src" / "version.ts").read_text()
    assert package["version"] == mlops_nb.__version__
    assert f"VERSION = '{mlops_nb.__version__}'" in source
    assert "API_VERSION = 1" in source


# --- authentication ---------------------------------------------------------------------

GET_ROUTES = [
    "version",
    "experiments",
    "runs",
    "runs/0123456789abcdef0123456789abcdef",
    "runs/0123456789abcdef0123456789abcdef/artifacts/a.txt",
    "models",
    "models/churn",
    "datasets",
    "datasets/train",
    "datasets/train/diff?a=1&b=2",
]
POST_ROUTES = [
    "models/churn/promote",
    "models/churn/approve",
    "runs/0123456789abcdef0123456789abcdef/restore",
]


@pytest.mark.parametrize("path", GET_ROUTES)
def test_every_get_route_refuses_a_request_without_token(api, project, path):
    assert api.fetch(path, auth=False).code == 403


@pytest.mark.parametrize("path", POST_ROUTES)
def test_every_post_route_refuses_a_request_without_token(api, project, path):
    response = api.fetch(
        path, method="POST", body="{}", auth=False, headers={"Content-Type": "application/json"}
    )
    assert response.code == 403


def test_delete_refuses_a_request_without_token(api, project):
    assert (
        api.fetch("runs/0123456789abcdef0123456789abcdef", method="DELETE", auth=False).code == 403
    )


def test_wrong_token_is_refused(api, project):
    assert api.fetch("runs", auth=False, headers={"Authorization": "token nope"}).code == 403


def test_cookie_session_post_needs_the_xsrf_token(api, jp_base_url, project):
    cookies = session_cookies(api, jp_base_url)
    jar = "; ".join(f"{k}={v.value}" for k, v in cookies.items())
    body = json.dumps({"version": 1, "to": "production", "reason": "r"})
    # The cookie alone authenticates a GET ...
    assert api.fetch("runs", auth=False, headers={"Cookie": jar}).code == 200
    # ... but a POST without the XSRF header is refused before our code runs.
    refused = api.fetch(
        "models/churn/promote",
        method="POST",
        body=body,
        auth=False,
        headers={"Cookie": jar, "Content-Type": "application/json"},
    )
    assert refused.code == 403
    assert b"_xsrf" in refused.body
    # With the header echoing the _xsrf cookie it passes XSRF (and reaches the handler).
    passed = api.fetch(
        "models/churn/promote",
        method="POST",
        body=body,
        auth=False,
        headers={
            "Cookie": jar,
            "Content-Type": "application/json",
            "X-XSRFToken": cookies["_xsrf"].value,
        },
    )
    assert passed.code == 404  # no model "churn" in this store: the handler answered


def test_post_refuses_a_non_json_body(api, project):
    response = api.post(
        "models", "churn", "promote", body={"version": 1}, content_type="text/plain"
    )
    assert response.code == 415
    assert "application/json" in error_body(response)["error"]


def test_malformed_json_body_is_a_400(api, project):
    response = api.fetch(
        "models/churn/promote",
        method="POST",
        body="{not json",
        headers={"Content-Type": "application/json"},
    )
    assert response.code == 400
    assert error_body(response)["error"] == "the request body is not valid JSON"


# --- runs -------------------------------------------------------------------------------


def test_runs_list_has_fields_params_metrics_and_total(api, seeded):
    body = api.json("runs")
    assert body["total"] == 4 and body["limit"] == 50 and body["offset"] == 0
    runs = {r["name"]: r for r in body["runs"]}
    assert set(runs) == {"baseline", "tuned", "broken", "sketch"}
    tuned = runs["tuned"]
    assert tuned["run_id"] == seeded.runs["tuned"]
    assert tuned["status"] == "finished" and tuned["experiment"] == "churn"
    assert tuned["params"] == {"lr": 0.2, "depth": 4}
    assert tuned["metrics"]["auc"] == pytest.approx(0.85)
    assert isinstance(tuned["start_time"], float) and tuned["duration"] >= 0
    assert runs["sketch"]["metrics"] == {}  # absent values are omitted, not NaN
    assert runs["sketch"]["params"] == {"note": "<b>x</b>"}  # data, never markup


def test_runs_pagination_and_limits(api, project):
    for i in range(55):
        end_run(project, create_run(project, f"r{i:02d}").run_id)
    first = api.json("runs")
    assert (first["total"], len(first["runs"])) == (55, 50)
    rest = api.json("runs", offset="50")
    assert len(rest["runs"]) == 5
    assert not {r["run_id"] for r in first["runs"]} & {r["run_id"] for r in rest["runs"]}
    assert len(api.json("runs", limit="500", offset="54")["runs"]) == 1
    assert api.json("runs", offset="1000")["runs"] == []
    for bad in ({"limit": "501"}, {"limit": "0"}, {"limit": "ten"}, {"offset": "-1"}):
        response = api.get("runs", **bad)
        assert response.code == 400
        assert next(iter(bad)) in error_body(response)["error"]


def test_unknown_query_parameters_are_refused_naming_the_known_ones(api, project):
    response = api.get("runs", limt="10")
    assert response.code == 400
    assert error_body(response)["error"] == (
        "unknown query parameter 'limt'; this endpoint takes: deleted, experiment, filter, "
        "limit, offset, status"
    )
    response = api.get("models", page="2")
    assert response.code == 400 and "takes: none" in error_body(response)["error"]
    assert api.get("runs", limit="5").code == 200
    assert api.fetch("runs?limit=5&1795768178230").code == 200  # JupyterLab's cache buster
    response = api.fetch("runs?limit=5&limit=6")
    assert response.code == 400
    assert error_body(response)["error"] == "give limit once, not 2 times"


def test_runs_filter_experiment_and_status(api, seeded):
    body = api.json("runs", filter="metrics.auc > 0.82")
    assert {r["name"] for r in body["runs"]} == {"tuned", "broken"} and body["total"] == 2
    assert [r["name"] for r in api.json("runs", experiment="scratch")["runs"]] == ["sketch"]
    body = api.json("runs", status="failed", experiment="churn")
    assert [r["name"] for r in body["runs"]] == ["broken"] and body["total"] == 1
    assert api.json("runs", status="failed", filter="metrics.auc < 0.5")["total"] == 0
    assert api.get("runs", filter="metrics.auc >").code == 400
    assert api.get("runs", status="\x1b").code == 400  # a control character is not "any"
    response = api.get("runs", status="done' or '1'='1")
    assert response.code == 400
    assert "status must be one of" in error_body(response)["error"]


def test_experiments_lists_names(api, seeded):
    assert api.json("experiments")["experiments"] == ["churn", "scratch"]


def test_run_detail(api, seeded):
    run_id = seeded.runs["tuned"]
    body = api.json("runs", run_id, max_points="5")
    assert body["run"]["name"] == "tuned" and body["run"]["status"] == "finished"
    assert body["params"] == {"lr": 0.2, "depth": 4}
    loss = body["metric_history"]["loss"]
    assert loss["total"] == 20 and len(loss["points"]) == 5
    assert [p["step"] for p in loss["points"]][0::4] == [0, 19]
    assert body["metrics"]["loss"] == pytest.approx(1 / 21)
    assert [a["path"] for a in body["artifacts"]] == ["importance.csv", "notebook.ipynb"]
    assert body["notebook_artifact"] == "notebook.ipynb"
    assert body["lineage"] == {"datasets_read": [], "datasets_produced": [], "models": []}
    assert body["cells"] == [] and body["run"]["reproducible"] is None
    assert api.json("runs", run_id[:8])["run"]["run_id"] == run_id


def test_run_detail_has_cell_history_and_reproducibility(api, seeded):
    body = api.json("runs", seeded.runs["baseline"])
    cells = body["cells"]
    assert [c["execution_count"] for c in cells] == [1, 2, 3, 4]
    assert cells[2]["ok"] is False and cells[2]["error_type"] == "NameError"
    assert cells[1]["source"] == "df = pd.read_csv('train.csv')"
    assert body["run"]["reproducible"] is False
    notes = body["reproducibility_notes"]
    assert any(n.startswith("failed") for n in notes) and any(n.startswith("re-run") for n in notes)


def test_delete_and_restore_a_run(api, seeded):
    run_id = seeded.runs["broken"]
    response = api.fetch(f"runs/{run_id[:8]}", method="DELETE")
    assert response.code == 200 and response.json() == {"deleted": [run_id]}
    assert run_id not in {r["run_id"] for r in api.json("runs")["runs"]}
    deleted = api.json("runs", deleted="true")
    assert deleted["total"] == 1 and deleted["runs"][0]["run_id"] == run_id
    assert error_body(api.get("runs", deleted="maybe"))["error"].startswith("deleted must be")
    assert api.json("runs", run_id)["run"]["deleted_at"] is not None  # still readable
    restored = api.post("runs", run_id, "restore", body={})
    assert restored.code == 200 and restored.json() == {"restored": [run_id]}
    assert run_id in {r["run_id"] for r in api.json("runs")["runs"]}
    assert api.json("runs", run_id)["run"]["deleted_at"] is None


@pytest.mark.parametrize("run_id", ["ffffffffffffffffffffffffffffffff", "not-hex!", "abc"])
def test_unknown_run_is_a_json_404(api, seeded, run_id):
    response = api.get("runs", run_id)
    assert response.code == 404
    error_body(response)


# --- artifacts --------------------------------------------------------------------------


def test_artifact_download_streams_bytes_with_headers(api, seeded):
    run_id = seeded.runs["baseline"]
    response = api.fetch(f"runs/{run_id}/artifacts/importance.csv?download=1")
    assert response.code == 200
    assert response.body == b"feature,importance\nage,0.4\n"
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.headers["Content-Disposition"] == "attachment; filename*=UTF-8''importance.csv"
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    etag = response.headers["ETag"]
    again = api.fetch(f"runs/{run_id}/artifacts/importance.csv", headers={"If-None-Match": etag})
    assert again.code == 304 and again.body == b""


@pytest.fixture
def sentinel(project):
    """A file outside the store that no request may reach."""
    path = project.root.parent / "SENTINEL"
    path.write_text("secret-sentinel-bytes")
    return path


TRAVERSALS = [
    "../../SENTINEL",
    "..%2f..%2fSENTINEL",
    "%2e%2e/%2e%2e/SENTINEL",
    "%2e%2e%2f%2e%2e%2fSENTINEL",
    "%252e%252e%252fSENTINEL",
    "..%5c..%5cSENTINEL",
    "..\\..\\SENTINEL",
    "....//....//SENTINEL",
    "%2fetc%2fpasswd",
    "/SENTINEL",
    "C:%5cSENTINEL",
    "%5c%5chost%5cshare%5cx",
    "a;/../../SENTINEL",
    "%ef%bc%8e%ef%bc%8e/SENTINEL",
    "importance.csv%00.png",
    "./importance.csv",
    "importance.csv/",
    ".mlops/mlops.db",
    "%2e%2e/%2e%2e/proj/.mlops/mlops.db",
]


@pytest.mark.parametrize("attack", TRAVERSALS)
def test_artifact_path_traversal_is_refused(api, seeded, sentinel, attack):
    response = api.fetch(f"runs/{seeded.runs['baseline']}/artifacts/{attack}")
    assert response.code in (400, 404)
    assert b"secret-sentinel" not in response.body
    assert str(sentinel.parent) not in error_body(response)["error"]


def test_artifact_of_another_run_is_404(api, seeded):
    response = api.fetch(f"runs/{seeded.runs['sketch']}/artifacts/importance.csv")
    assert response.code == 404
    assert "has no artifact" in error_body(response)["error"]


def corrupt(project, run_id: str, path: str) -> int:
    """Flip a byte of a stored artifact in place (same size); returns its size."""
    artifact = next(a for a in Run(project, run_id).artifacts if a.path == path)
    blob = project.blobs.local_path(artifact.digest)
    blob.chmod(0o644)
    data = bytearray(blob.read_bytes())
    data[-2] ^= 0xFF
    blob.write_bytes(bytes(data))
    return artifact.size


def test_corrupted_small_artifact_is_a_json_500(api, seeded, project):
    corrupt(project, seeded.runs["tuned"], "importance.csv")
    response = api.fetch(f"runs/{seeded.runs['tuned']}/artifacts/importance.csv")
    assert response.code == 500
    assert "does not match its recorded digest" in error_body(response)["error"]


def test_corrupted_large_artifact_download_is_cut_short(api, project):
    from tornado.simple_httpclient import HTTPStreamClosedError

    run = create_run(project, "big")
    log_artifact(project, run.run_id, bytes(range(256)) * 4096, "weights.bin")  # 1 MiB
    end_run(project, run.run_id)
    size = corrupt(project, run.run_id, "weights.bin")
    try:
        response = api.fetch(f"runs/{run.run_id}/artifacts/weights.bin")
    except HTTPStreamClosedError:
        return  # the connection closed mid-body: the download failed, as it must
    assert len(response.body) < size


# --- contract ---------------------------------------------------------------------------


def test_unknown_route_under_the_api_is_404(api, project):
    assert api.fetch("nope").code == 404


def test_openapi_documents_every_route():
    import yaml

    from mlops_nb.server.routes import ROUTES

    spec = yaml.safe_load((REPO / "mlops_nb" / "server" / "openapi.yaml").read_text())
    documented = {re.sub(r"\{\w+\}", "{}", path).strip("/") for path in spec["paths"]}
    for pattern, _handler in ROUTES:
        assert re.sub(r"\(\?P<\w+>[^)]*\)", "{}", pattern) in documented, pattern


def test_unsupported_method_is_405_with_allow(api, project):
    response = api.fetch("runs", method="DELETE")
    assert response.code == 405
    assert response.headers["Allow"] == "GET, OPTIONS"
    assert error_body(response)["error"] == "Method Not Allowed"
