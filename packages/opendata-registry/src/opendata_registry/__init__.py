"""The OpenData registry service: catalogue, search and signed downloads over a bucket.

Build the app with :func:`opendata_registry.app.create_app`; run it with
``opendata-registry serve``.
"""

from importlib.metadata import version as _metadata_version

# The version is written once, in this package's pyproject.toml; the installed metadata carries it.
__version__ = _metadata_version("opendata-registry")
