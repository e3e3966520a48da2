"""The notebook face: ``%mlops`` magics, cell-history capture and ipywidgets.

Loaded by ``%load_ext mlops_nb`` (see :mod:`mlops_nb.notebook.extension`). Everything here
calls the core; nothing in the core imports this package.
"""
