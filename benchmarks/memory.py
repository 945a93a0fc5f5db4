"""Resident memory of this process, read from ``/proc/self/status`` (Linux), for the benchmarks.

``VmRSS`` is the resident size now, ``VmHWM`` its peak; writing ``5`` to
``/proc/self/clear_refs`` restarts the peak from the current resident size (proc(5)).
"""

from __future__ import annotations


def memory_mb(field: str = "VmRSS") -> float:
    """``VmRSS`` or ``VmHWM`` (peak) of this process from ``/proc/self/status``, in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def reset_peak() -> None:
    """Make the peak resident memory (VmHWM) restart from the current resident size."""
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
