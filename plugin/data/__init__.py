"""Data shipped in the wheel: the default manifest and the demo's example tickets."""
from importlib import resources
from pathlib import Path


def path(name: str) -> Path:
    """Filesystem path of a shipped data file (``manifest.json``, ``tickets.jsonl``)."""
    return Path(str(resources.files(__name__).joinpath(name)))
