"""Notebooks as pipeline steps: ``mlops run``, cached pipelines, sweeps, reproduce.

``api`` holds the public functions (``run_notebook``, ``run_pipeline``, ``sweep``,
``reproduce``); the other modules each do one job: ``notebooks`` and ``parameters`` (reading
a notebook and its ``parameters`` cell), ``kernels`` and ``execute`` (papermill in a fresh
kernel), ``tracked`` (an execution as a run), ``spec``, ``refs``, ``grid`` and ``dag`` (the
pipeline file), ``cache`` and ``stepio`` (cache keys, inputs and outputs), ``runner`` and
``executors`` (scheduling, locally or on Dask), ``pipeline``, ``sweep``, ``reproduce``,
``junit`` and ``results``.
"""
