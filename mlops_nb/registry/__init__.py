"""Model registry: versions, aliases, promotion gates, and the hash-chained audit trail.

The public functions live in ``api`` (re-exported by ``mlops_nb``); the other modules are
the core they share with the CLI, the magics and the server.
"""
