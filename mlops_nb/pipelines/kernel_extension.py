"""The ``mlops_nb`` IPython extension as kernels started by ``mlops run`` and pipelines load it.

It is loaded under this module's name (``--IPKernelApp.extra_extensions``), not as
``mlops_nb``, so that a notebook's own ``%load_ext mlops_nb`` still runs quietly: IPython
answers a second load of the same name with an "already loaded" message in the cell's output.
Loading is idempotent, so the notebook's own load attaches to the same run.
"""

from __future__ import annotations

from ..notebook.extension import load as load_ipython_extension

__all__ = ["load_ipython_extension"]
