"""Progress while a run runs: posts read, pairs scored and their rate, on one tqdm line.

Only where the workers run in this process (DirectRunner in memory or with threads): a small
DoFn after each counted stage ticks the display that ``mmkg run`` opened in this process. A
worker in another process finds no display open there and ticks nothing, which is also why a
run without a display (stderr not a terminal, tests, other runners) is never affected. Beam's
metrics cannot be polled instead: DirectRunner's ``run()`` returns only once the job is done.
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
from typing import Iterator, Optional, TextIO, Tuple

import apache_beam as beam

POSTS = "posts"
PAIRS = "pairs"


def _size(stream: TextIO) -> Tuple[int, int]:
    # Some pseudo-terminals report a size of 0 x 0, which tqdm would take literally and print
    # nothing; a stream that is not a terminal (tests) has no size at all.
    try:
        size = os.get_terminal_size(stream.fileno())
        return size.columns or 100, size.lines or 24
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return 100, 24


class Display:
    """One tqdm line: pairs scored (with their rate) and posts read. Thread-safe, since a
    multi-threaded DirectRunner ticks it from several threads."""

    def __init__(self, stream: TextIO):
        from tqdm import tqdm

        self.counts = {POSTS: 0, PAIRS: 0}
        self._lock = threading.Lock()
        columns, rows = _size(stream)
        self._bar = tqdm(total=None, desc="pairs scored", unit=" pairs", file=stream, mininterval=0.5,
                         ncols=columns, nrows=rows, leave=True)
        self._bar.set_postfix_str("posts read 0", refresh=False)

    def tick(self, kind: str, n: int = 1) -> None:
        with self._lock:
            self.counts[kind] += n
            if kind == PAIRS:
                self._bar.update(n)
            else:
                self._bar.set_postfix_str(f"posts read {self.counts[POSTS]}", refresh=False)

    def close(self) -> None:
        with self._lock:
            self._bar.set_postfix_str(f"posts read {self.counts[POSTS]}", refresh=False)
            self._bar.close()


_open: Optional[Display] = None  # the display of the run going on in this process, if any


@contextlib.contextmanager
def showing(enabled: bool, stream: TextIO = sys.stderr) -> Iterator[Optional[Display]]:
    """Opens this process's display for the duration of a run (when ``enabled``)."""
    global _open
    if not enabled:
        yield None
        return
    _open = Display(stream)
    try:
        yield _open
    finally:
        display, _open = _open, None
        display.close()


class Tick(beam.DoFn):
    """Ticks the display of the process it runs in for every element; outputs nothing."""

    def __init__(self, kind: str):
        self.kind = kind

    def process(self, _element):
        display = _open
        if display is not None:
            display.tick(self.kind)
        return ()
