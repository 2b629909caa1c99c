"""Memory a worker gives back: blocks of ``LARGE_BLOCK`` bytes and more (a pasted log, a long
thread read from the helpdesk) are served by their own memory mapping and returned to the
operating system when freed.

glibc's malloc otherwise raises its mapping threshold to the size of the first large block freed
(up to 32 MB), after which multi-megabyte texts are carved from the heap and, freed between
smaller live objects, keep the worker's resident size at its high-water mark. Other C libraries
are left as they are.
"""
from __future__ import annotations

import ctypes
import ctypes.util

LARGE_BLOCK = 256 * 1024
_M_MMAP_THRESHOLD = -3       # mallopt parameter number in glibc's malloc.h


def return_large_blocks(threshold: int = LARGE_BLOCK) -> bool:
    """Fix glibc's mapping threshold at ``threshold`` bytes; False where that is not glibc."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return mallopt(_M_MMAP_THRESHOLD, threshold) == 1
