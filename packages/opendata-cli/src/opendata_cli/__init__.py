"""The od command-line tool for OpenData producers and consumers."""

__version__ = "0.1.0"
