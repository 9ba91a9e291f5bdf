"""The OpenData web portal."""

__version__ = "0.1.0"
