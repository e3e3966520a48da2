"""Monitoring: data drift, model performance decay, and triggers that start retraining.

Public functions live in :mod:`mlops_nb.monitor.api` (``detect_drift``, ``monitor``).
"""
