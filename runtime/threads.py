"""How many threads torch computes with in a worker process.

torch takes every core by default, in every process. A multi-process DirectRunner (or any
runner with several model-running processes per machine) then runs workers x cores threads on
cores cores, and with more threads than cores torch's OpenMP workers spin waiting for each other:
on 2 cores, batch-1 scoring fell from 38 to 5.6 pairs/s when another process took one core.
So each worker takes its share, cores // workers, and no more than the cores the rest of the
machine leaves free; at least 1.
"""
from __future__ import annotations

import os
import time
from typing import Optional

import torch


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, which containers and taskset narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def busy_cores(samples: int = 5, interval_s: float = 0.02) -> float:
    """Cores kept busy by other threads now: the kernel's count of runnable threads
    (/proc/loadavg), less this one, the fewest of a few samples. Not the load average, which lags
    by a minute: right after one run it would take the machine for busy and starve the next."""
    counts = []
    for n in range(samples):
        try:
            with open("/proc/loadavg", encoding="ascii") as f:
                counts.append(int(f.read().split()[3].split("/")[0]) - 1)
        except (OSError, ValueError, IndexError):
            return 0.0
        if n + 1 < samples:
            time.sleep(interval_s)
    return float(max(0, min(counts)))


def threads_per_worker(requested: int = 0, workers: int = 1, busy: Optional[float] = None) -> int:
    """``requested`` when positive, else this machine's cores shared among ``workers`` (0: one
    worker per core, as Dataflow runs its SDK processes), and no more than the cores that other
    processes leave free (``busy``, by default busy_cores()): a thread too many costs far more
    (5-10x, measured) than a thread too few (under 2x)."""
    if requested > 0:
        return requested
    cores = available_cores()
    share = cores // (workers if workers > 0 else cores)
    free = cores - int((busy_cores() if busy is None else busy) + 0.5)
    return max(1, min(share, free))


def use_threads(n: int) -> None:
    """Sets torch's intra-op threads for this process (a process-wide setting)."""
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
