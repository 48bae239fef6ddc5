"""The configs that ship with hjepa_lite: ``load_config("tiny_fpn_add")`` reads one by name.

This folder is the repository's ``configs/`` and installs as the package ``hjepa_lite.configs``
(``package-dir`` in pyproject.toml): the one copy of each YAML file, in a clone and in a wheel.
"""
