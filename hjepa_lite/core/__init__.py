"""Foundations every other part builds on, importing nothing of the package: the option
registries' lookup (``registry``), token grids and their position tables (``grid``), I-JEPA's
multi-block masks (``masks``) and argument checks (``arguments``)."""
