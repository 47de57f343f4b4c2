"""Alertwrite core: parse Alertmanager deliveries, track alert lifecycles, route notifications.

Pure logic lives here; Appwrite and SQLite adapters live in `stores/`. The package is
copied into every function bundle, so it imports nothing from the CLI.
"""

__version__ = "0.1.0"  # keep equal to pyproject.toml; bundles are not installed packages
