"""Data shipped in the wheel: the default manifest and the demo's example tickets.

``manifest.json`` is the demo's site file; it ``extends`` ``default_manifest.json``, the full
document of shipped defaults (see ``tiergate.plugin.core.manifest_layers``).
"""
import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any


def path(name: str) -> Path:
    """Filesystem path of a shipped data file (``manifest.json``, ``tickets.jsonl``)."""
    return Path(str(resources.files(__name__).joinpath(name)))


@lru_cache(maxsize=4)
def read_json(name: str) -> Any:
    """A shipped JSON file, parsed once per process (callers must not modify it)."""
    return json.loads(path(name).read_text(encoding="utf-8"))
