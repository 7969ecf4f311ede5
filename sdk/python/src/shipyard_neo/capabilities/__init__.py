"""Capabilities of a sandbox (`sandbox.python`, `.shell`, `.filesystem`, `.browser`)."""

from .base import BaseCapability
from .browser import BrowserCapability
from .filesystem import FilesystemCapability
from .python import PythonCapability
from .shell import ShellCapability

__all__ = [
    "BaseCapability",
    "BrowserCapability",
    "FilesystemCapability",
    "PythonCapability",
    "ShellCapability",
]
