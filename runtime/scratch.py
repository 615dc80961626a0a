"""A run's scratch directory: everything Python's ``tempfile`` creates during a run goes under one
fresh directory, removed when the run ends.

Beam's submission path makes ``tempfile.mkdtemp()`` directories and never removes them: the
staged job resources (``--setup_file``'s sdist of mmkg with its checkpoints, about 69 MB; the
pickled main session; the list of the submitting environment's packages) on every PortableRunner,
Flink or Dataflow submission, and the Flink job server's work directory. A host that submits a
job a day would fill its /tmp. Pointing ``tempfile`` elsewhere for the run's duration is the one
lever, since those calls take no directory argument from the pipeline options.
"""
from __future__ import annotations

import contextlib
import shutil
import tempfile
from typing import Iterator


@contextlib.contextmanager
def scratch_directory(prefix: str = "mmkg-run-") -> Iterator[str]:
    """Point ``tempfile`` at a new directory inside the current temporary directory, yield its
    path, then point it back and remove the directory with what was left in it. Process-wide:
    other threads of the process create their temporary files there too for the duration."""
    path = tempfile.mkdtemp(prefix=prefix)
    previous = tempfile.tempdir
    tempfile.tempdir = path
    try:
        yield path
    finally:
        tempfile.tempdir = previous
        shutil.rmtree(path, ignore_errors=True)
