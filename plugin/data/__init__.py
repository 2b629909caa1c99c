"""Data shipped in the wheel: the default manifest and the demo's example tickets.

``manifest.json`` is the demo's site file; it ``extends`` ``default_manifest.json``, the full
document of shipped defaults (see ``tiergate.plugin.core.manifest_layers``).
"""
from tiergate.plugin.core.manifest import shipped_path as path

__all__ = ["path"]
