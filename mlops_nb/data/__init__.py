"""Dataset snapshots: deduplicated, diffable, checked dataset versions.

``api`` holds the public functions (``snapshot``, ``load_dataset``, ``diff_datasets``,
``check_data``, ``datasets``, ``capture``, ``load_versions``); the other modules each do one
job: ``fingerprint`` (content identity of a DataFrame), ``profile`` (per-column statistics),
``chunks`` (bytes stored as content-addressed chunks), ``statcache`` (skip re-hashing
unchanged files), ``versions`` and ``refs`` (the ``dataset_versions`` table and ``name@3``
references), ``snapshot``, ``load``, ``diff``, ``checks`` and ``lineage``.
"""
