"""The OpenData registry service."""

__version__ = "0.1.0"
