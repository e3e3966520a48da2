"""URL patterns of the REST API, mounted under ``{base_url}mlops/api/``."""

from __future__ import annotations

from typing import Any

from jupyter_server.utils import url_path_join

from .handlers import datasets, meta, models, runs

# Path segments: run ids are hex, names follow ``mlops_nb.names.check_name`` (validated again
# in the handlers); an artifact path is whatever follows ``artifacts/``.
RUN = r"(?P<run_id>[^/]+)"
NAME = r"(?P<name>[^/]+)"

ROUTES: list[tuple[str, type]] = [
    ("version", meta.VersionHandler),
    ("experiments", meta.ExperimentsHandler),
    ("runs", runs.RunsHandler),
    (f"runs/{RUN}", runs.RunHandler),
    (f"runs/{RUN}/restore", runs.RestoreHandler),
    (f"runs/{RUN}/artifacts/(?P<path>.+)", runs.ArtifactHandler),
    ("models", models.ModelsHandler),
    (f"models/{NAME}", models.ModelHandler),
    (f"models/{NAME}/promote", models.PromoteHandler),
    (f"models/{NAME}/approve", models.ApproveHandler),
    ("datasets", datasets.DatasetsHandler),
    (f"datasets/{NAME}", datasets.DatasetHandler),
    (f"datasets/{NAME}/diff", datasets.DiffHandler),
]


def setup_handlers(web_app: Any, root_dir: str) -> None:
    """Add every route to ``web_app``; the project is found from ``root_dir`` per request."""
    base = url_path_join(web_app.settings["base_url"], "mlops", "api")
    web_app.settings["mlops_root_dir"] = root_dir
    web_app.add_handlers(
        ".*$", [(url_path_join(base, pattern), handler) for pattern, handler in ROUTES]
    )
