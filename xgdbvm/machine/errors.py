"""Errors a user can cause by configuration, reported as one clear line."""

from __future__ import annotations


class ConfigError(Exception):
    """A bad image, device tree or option: the CLI prints it and exits 2."""
