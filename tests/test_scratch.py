"""A run's scratch directory is where tempfile points during the run, and is gone after it, even
when the run fails."""
from __future__ import annotations

import os
import tempfile

import pytest

from mmkg.runtime.scratch import scratch_directory


def test_the_scratch_directory_takes_temporary_files_and_is_removed_after_a_failure(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(RuntimeError):
        with scratch_directory() as scratch:
            assert tempfile.gettempdir() == scratch and os.path.dirname(scratch) == str(tmp_path)
            leaked = tempfile.mkdtemp()  # what Beam's stager does, never removing it
            open(os.path.join(leaked, "sdist.tar.gz"), "w").close()
            raise RuntimeError("the job failed")
    assert tempfile.tempdir == str(tmp_path)
    assert list(tmp_path.iterdir()) == []
