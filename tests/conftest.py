"""Shared test set-up. Fixture modules named tests/fixtures_*.py (real servers: the embedded graph
store, the local LLM server, Beam's job service) are loaded as pytest plugins automatically."""
import os
import pathlib

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

_HERE = pathlib.Path(__file__).parent
pytest_plugins = sorted(f"tests.{p.stem}" for p in _HERE.glob("fixtures_*.py"))

REPO = _HERE.parent
# The benchmark data is not part of the repository: it sits beside the checkout (or where
# MMKG_SHARED_DATA says). Tests that need it skip, saying so, where it is absent.
SHARED_DATA = pathlib.Path(os.environ.get("MMKG_SHARED_DATA", REPO / ".." / "shared" / "data")).resolve()
MNRE_DIR = SHARED_DATA / "mnre"


def mnre_path(*parts: str) -> pathlib.Path:
    """A path in the shared MNRE data; skips the calling test, saying why, when it is absent."""
    path = MNRE_DIR.joinpath(*parts)
    if not path.exists():
        # allow_module_level: some modules read the data when they are collected.
        pytest.skip(f"needs the MNRE data at {path} (../shared/data beside the checkout, or "
                    f"MMKG_SHARED_DATA), which is absent here", allow_module_level=True)
    return path


@pytest.fixture(scope="session", autouse=True)
def _temporary_files_in_one_scratch_directory():
    """Beam's DirectRunner leaves empty folders in the temporary directory after every pipeline
    (three per run with Beam 2.78: its job server's and the pipeline's); a run of this suite builds
    hundreds. The session's temporary files go in one scratch directory, removed at its end, as
    `mmkg run` does for a run (runtime/scratch.py); tests that drive Beam directly need this."""
    from mmkg.runtime.scratch import scratch_directory

    with scratch_directory(prefix="mmkg-tests-"):
        yield


# The suite runs in two processes, a whole file to one (README: `-n 2 --dist loadfile`). A file
# started near the end keeps one worker busy while the other idles, so the longest files go first
# (longest processing time first). Seconds per file, summed over its tests, measured 2026-12-08 on
# the 2-core machine (`pytest --durations=0`); a file not named here follows in collection order.
LONGEST_FILES_FIRST = (
    "test_resolve_pipeline.py",  # 264 s
    "test_flink_cluster.py",  # 156 s
    "test_faults_graph.py",  # 151 s
    "test_graph_write.py",  # 116 s
    "test_graph_concurrent_runs.py",  # 113 s
    "test_readme.py",  # 105 s
    "test_graph_neo4j_run.py",  # 99 s
    "test_precision.py",  # 77 s
    "test_graph_query.py",  # 61 s
    "test_security.py",  # 45 s
)


def pytest_configure(config):
    # xdist by default queues files by their number of tests; the order below is by time instead.
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: within a file, as written


_EXIT_STATUS = {"value": None}


def pytest_sessionfinish(session, exitstatus):
    _EXIT_STATUS["value"] = int(exitstatus)


def pytest_unconfigure(config):
    """Leave without interpreter finalisation once pytest has reported.

    The session holds an in-process JVM (the embedded ArcadeDB store, through JPype) beside
    torch's and gRPC's native threads; tearing all of them down in the interpreter's own
    finalisation crashed once (SIGSEGV after "N passed"), which would turn a green run red.
    Every fixture has been torn down and every result reported by now, so the exit status
    pytest computed is the whole truth.
    """
    if _EXIT_STATUS["value"] is None or hasattr(config, "workerinput"):
        return  # an xdist worker ends through execnet, which must still send its last reports
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_EXIT_STATUS["value"])
