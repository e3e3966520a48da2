"""Reading ``mlops.yaml``: safe YAML only, with errors that name the file and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import UsageError

CONFIG_FILE = "mlops.yaml"

DEFAULT_CONFIG_TEXT = """\
# mlops_nb project configuration. Every key is optional.
store:
  # uri: sqlite:///.mlops/mlops.db           # or postgresql+psycopg://user@host/db
  # artifacts: .mlops/blobs                   # or s3://bucket/prefix
promotion:
  # production:
  #   require:
  #     - metrics.accuracy >= 0.9
  #     - from: staging
monitor:
  # triggers:
  #   - when: drift_share > 0.3
  #     run: retrain.yaml
"""


def load_yaml_file(path: Path) -> Any:
    """Parse a YAML file with the safe loader; any error becomes one clear line."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UsageError(f"{path}{where}: invalid YAML ({problem}); fix the file") from None


def load_config(root: Path) -> dict[str, Any]:
    """The project's ``mlops.yaml`` as a dict ({} when absent or empty)."""
    path = root / CONFIG_FILE
    if not path.exists():
        return {}
    data = load_yaml_file(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"{path}: the top level must be a mapping of sections (store:, ...)")
    return data


def section(config: dict[str, Any], *keys: str) -> dict[str, Any]:
    """A nested mapping of the config (``section(cfg, "monitor", "columns")``), {} if absent."""
    node: Any = config
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
        if node is None:
            return {}
    if not isinstance(node, dict):
        raise UsageError(f"{CONFIG_FILE}: '{'.'.join(keys)}' must be a mapping")
    return node
