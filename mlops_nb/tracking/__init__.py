"""Tracking core: runs, params, metrics, tags, artifacts, environment."""

# Set by runners (``mlops run``, pipelines) for the processes they start: the run to log to.
ATTACH_ENV = "MLOPS_RUN_ID"
