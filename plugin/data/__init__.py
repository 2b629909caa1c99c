"""Data shipped in the wheel: the default manifest and the demo's example tickets.

``manifest.json`` is the demo's site file; it ``extends`` ``default_manifest.json``, the full
document of shipped defaults (see ``tiergate.plugin.core.manifest_layers``).
"""
from importlib import resources
from pathlib import Path


def path(name: str) -> Path:
    """Filesystem path of a shipped data file (``manifest.json``, ``tickets.jsonl``)."""
    return Path(str(resources.files(__name__).joinpath(name)))
