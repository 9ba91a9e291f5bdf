"""The OpenData web portal."""

from importlib.metadata import version as _metadata_version

# The version is written once, in this package's pyproject.toml; the installed metadata carries it.
__version__ = _metadata_version("opendata-portal")
