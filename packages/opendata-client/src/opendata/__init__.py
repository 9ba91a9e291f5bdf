"""Consumer SDK and publish engine for OpenData (import opendata as od)."""

__version__ = "0.1.0"
