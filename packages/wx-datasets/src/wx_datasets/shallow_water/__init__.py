"""A global rotating shallow-water atmosphere (spectral transform on a Gaussian grid), in numpy.

The built-in dataset source ``shallow-water``: see :func:`wx_datasets.shallow_water.source.
open_source`. Modules: ``spectral`` (spherical harmonic transforms), ``model`` (equations and
semi-implicit time stepping), ``forcing`` (relaxation, drag, stirring), ``initial`` (random
balanced states, orography, Williamson et al. 1992 test cases), ``options`` (recipe options)
and ``source`` (the dataset source).
"""
