"""A worker gives multi-megabyte texts back to the operating system once it is done with them
(``jobs.memory``): freed between small live objects, they no longer keep its resident size up."""
from __future__ import annotations

import subprocess
import sys

PATTERN = """
import sys
from tiergate.jobs.memory import return_large_blocks

def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024

ok = return_large_blocks() if sys.argv[1] == "on" else None
first = "x" * (8 << 20)
del first                         # glibc now serves blocks up to 8 MB from its heap
base = rss()
keep = []
for i in range(40):               # 40 pasted logs of 4 MB, each followed by a small live object
    keep.append(("%02d" % i) * (2 << 20))
    keep.append(bytearray(100))
for i in range(0, len(keep) - 2, 2):
    keep[i] = None                # done with; the small objects and the latest log live on
print(ok, rss() - base)
"""


def retained(mode: str) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", PATTERN, mode], capture_output=True, text=True,
                         check=True).stdout.split()
    return out[0], int(out[1])


def test_freed_large_texts_leave_the_worker():
    ok, kept = retained("on")
    assert ok == "True"
    assert kept < 30, f"{kept} MB of 156 MB freed texts still resident"


def test_without_it_the_same_texts_stay_resident():
    """The harm the setting prevents, on this C library: most of the freed 156 MB stays."""
    _, kept = retained("off")
    assert kept > 80, kept
