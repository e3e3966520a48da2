"""Tracking core: runs, params, metrics, tags, artifacts, environment."""
