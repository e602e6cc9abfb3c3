"""nas-cli: the `nas` command line (Typer + rich) and, as it grows, the search module.

The commands are thin: they parse options, call nas_core (or the search module), and render.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
