"""tiergate's own edges and pure core: ``core`` (no I/O), ``web`` (receiver), ``cli`` (commands)."""
__version__ = "0.1.0"
