"""Capture readers: each turns one file format into RequestRecord/Contact items."""

from ._base import CaptureError, CaptureItem, Contact

__all__ = ["CaptureError", "CaptureItem", "Contact"]
