"""The OpenData registry service: catalogue, search and signed downloads over a bucket.

Build the app with :func:`opendata_registry.app.create_app`; run it with
``opendata-registry serve``.
"""

__version__ = "0.1.0"
