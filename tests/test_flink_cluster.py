"""`mmkg run` on a real, running Flink cluster: a standalone Flink session cluster (a JobManager
and a TaskManager, each its own JVM, from PyPI's apache-flink wheels, on 127.0.0.1, stopped by
PID) and Beam's Flink job server, which submits the job to it over Flink's REST API.

The artifacts come from .ci/fetch_services.py (cached in ~/.cache/mmkg); each test skips, saying
what is missing, where Java, the Flink distribution or the job-server jar is absent.
"""
from __future__ import annotations

import os
import signal

import pytest

from mmkg.cli.run import main as run_main
from tests import services
from tests.test_pipeline_e2e import EXAMPLES
from tests.test_resolve_pipeline import graph_state
from tests.test_runners_local import assert_same_outputs, parquet_outputs
from tests.test_security import is_loopback, listening_sockets


def needs(*names: str) -> None:
    for name in names:
        reason = services.missing(name)
        if reason:
            pytest.skip(reason)


TESTED_FLINK = "2.2.0"  # the newest Flink Beam supports; the cluster tests run on it


@pytest.fixture(scope="module")
def flink(tmp_path_factory):
    needs(f"flink-{TESTED_FLINK}")
    cluster = services.FlinkCluster(str(tmp_path_factory.mktemp("flink")), version=TESTED_FLINK)
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def job_server_cluster(tmp_path_factory):
    """The cluster of the Flink version the fetched job server is built for (2.2.0 when Maven
    Central serves Beam's matching jar; the fallback's 1.19.3 otherwise, see .ci/fetch_services.py)."""
    needs("flink_job_server")
    version = services.manifest()["flink_job_server"]["flink_version"]
    needs(f"flink-{version}")
    cluster = services.FlinkCluster(str(tmp_path_factory.mktemp("flink-js")), version=version)
    cluster.start()
    yield cluster
    cluster.stop()


def test_the_cluster_runs_as_two_processes_on_loopback_and_stops_by_pid(flink):
    overview = flink.get("/overview")
    assert overview["taskmanagers"] == 1 and overview["slots-total"] == flink.slots
    assert overview["flink-version"] == TESTED_FLINK
    jobmanager, taskmanager = flink.procs
    assert jobmanager.pid != taskmanager.pid
    for proc in flink.procs:
        assert os.readlink(f"/proc/{proc.pid}/exe").endswith("java")  # the launcher exec'd the JVM
        sockets = listening_sockets(proc.pid)
        assert sockets and all(is_loopback(ip) for ip, _ in sockets), sockets
    assert flink.rest_port in {port for _, port in listening_sockets(jobmanager.pid)}


def test_stop_ends_both_processes(tmp_path):
    needs(f"flink-{TESTED_FLINK}")
    cluster = services.FlinkCluster(str(tmp_path), version=TESTED_FLINK)
    cluster.start()
    pids = [p.pid for p in cluster.procs]
    cluster.stop()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    with pytest.raises(OSError):
        cluster.get("/overview")


def flink_flags(cluster, environment_type: str):
    job_server = services.manifest()["flink_job_server"]
    return ["--runner=FlinkRunner", f"--flink_master={cluster.master}", f"--environment_type={environment_type}",
            f"--flink_version={job_server['flink_version'].rsplit('.', 1)[0]}",
            f"--flink_job_server_jar={job_server['jar']}", "--parallelism=1"]


def job_server_pids(jar: str) -> set:
    """PIDs of running processes whose command line names the job-server jar."""
    pids = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if jar.encode() in f.read():
                        pids.add(int(entry))
            except OSError:
                pass
    return pids


@pytest.fixture
def reap_job_servers():
    """Beam's FlinkRunner starts the job server (java -jar) and, at the end of the run, logs
    "Really destroying service" but leaves that JVM running (seen with the assembled 2.62 job
    server). The test stops the ones it caused, by PID."""
    jar = services.manifest().get("flink_job_server", {}).get("jar", "\0")
    before = job_server_pids(jar)
    yield
    for pid in job_server_pids(jar) - before:
        os.kill(pid, signal.SIGTERM)


def test_mmkg_run_finishes_on_the_cluster_with_the_direct_runners_outputs_and_graph(job_server_cluster,
                                                                                   reap_job_servers, tmp_path):
    """The whole job on the cluster, entity resolution and graph writes included: its first step
    reads the graph from a Flink worker, the rows are written from Flink workers; the Parquet
    outputs and the graph (every node, relationship and property) end as the DirectRunner's."""
    # LOOPBACK: the SDK workers run in this process, which the TaskManager on this machine reaches.
    # (On a remote cluster: DOCKER or EXTERNAL, docs/runners.md.)
    flink = job_server_cluster
    common = ["--input", str(EXAMPLES), "--llm", "none"]
    assert run_main(common + ["--data-dir", str(tmp_path / "direct")]) == 0
    before = {j["jid"] for j in flink.jobs()}
    assert run_main(common + ["--data-dir", str(tmp_path / "flink")] + flink_flags(flink, "LOOPBACK")) == 0
    new = [j for j in flink.jobs() if j["jid"] not in before]
    assert len(new) == 1 and new[0]["state"] == "FINISHED", new
    assert parquet_outputs(tmp_path / "flink")["pairs"]
    assert_same_outputs(tmp_path / "direct", tmp_path / "flink")
    direct, flinked = graph_state(tmp_path / "direct"), graph_state(tmp_path / "flink")
    assert direct[0]["nodes"] and direct[0] == flinked[0]
