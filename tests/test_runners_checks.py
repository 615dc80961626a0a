"""Runner options are checked before anything starts: which runs are local, which combinations
are refused, and the Flink and portable submission checks (against real sockets on 127.0.0.1)."""
from __future__ import annotations

import socket
import sys

import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from mmkg.pipeline.options import MmkgOptions, settings_from_options
from mmkg.runners.checks import (
    RunnerConfigError,
    WorkerServices,
    is_local_run,
    prepare_runner_options,
    runner_name,
    validate_runner_options,
)
from mmkg.runners.flink import flink_args, validate_flink_options


@pytest.fixture
def listening_port():
    """A real TCP listener on 127.0.0.1, standing in for a JobManager's REST port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


@pytest.fixture
def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return port  # nothing listens here any more


@pytest.mark.parametrize(
    "argv, local",
    [
        ([], True),
        (["--runner=DirectRunner", "--direct_num_workers=4", "--direct_running_mode=multi_processing"], True),
        (["--runner=direct"], True),
        (["--runner=FnApiRunner"], True),
        (["--runner=PortableRunner", "--job_endpoint=127.0.0.1:8099", "--environment_type=LOOPBACK"], True),
        (["--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=LOOPBACK"], True),
        (["--runner=PortableRunner", "--job_endpoint=127.0.0.1:8099", "--environment_type=DOCKER"], False),
        (["--runner=PortableRunner", "--job_endpoint=jobs.example.com:8099", "--environment_type=LOOPBACK"], False),
        (["--runner=FlinkRunner", "--flink_master=[local]"], True),
        (["--runner=FlinkRunner", "--flink_master=flink.example.com:8081", "--environment_type=DOCKER"], False),
        (["--runner=FlinkRunner", "--flink_master=localhost:8081", "--environment_type=PROCESS"], False),
        (["--runner=SparkRunner", "--spark_master_url=local[2]", "--environment_type=LOOPBACK"], True),
        (["--runner=DataflowRunner"], False),
        (["--runner=dataflow"], False),
    ],
)
def test_local_and_distributed_runs(argv, local):
    assert is_local_run(PipelineOptions(argv)) is local


def test_runner_names_are_canonical():
    assert runner_name(PipelineOptions(["--runner=flink"])) == "FlinkRunner"
    assert runner_name(PipelineOptions(["--runner=apache_beam.runners.portability.fn_api_runner.FnApiRunner"])) == "FnApiRunner"


def test_local_runs_may_use_the_embedded_servers():
    validate_runner_options(PipelineOptions([]), WorkerServices(embedded_graph=True, embedded_llm=True))


@pytest.mark.parametrize(
    "graph, llm, wanted, not_wanted",
    [
        (True, True, ["--neo4j-uri", "--llm-base-url"], []),
        (True, False, ["--neo4j-uri", "--no-graph"], ["--llm-base-url"]),
        (False, True, ["--llm-base-url", "--llm none"], ["--neo4j-uri"]),
    ],
)
def test_distributed_runs_refuse_the_embedded_servers(graph, llm, wanted, not_wanted):
    options = PipelineOptions(["--runner=FlinkRunner", "--flink_master=flink.example.com:8081"])
    with pytest.raises(RunnerConfigError) as e:
        validate_runner_options(options, WorkerServices(embedded_graph=graph, embedded_llm=llm))
    message = str(e.value)
    assert message.startswith("FlinkRunner runs the pipeline on workers")
    assert all(w in message for w in wanted) and not any(n in message for n in not_wanted)


def test_distributed_runs_refuse_service_urls_on_this_machine():
    options = PipelineOptions(
        ["--runner=FlinkRunner", "--flink_master=flink.example.com:8081", "--neo4j-uri=bolt://127.0.0.1:7687", "--llm", "none"]
    )
    with pytest.raises(RunnerConfigError, match=r"--neo4j-uri bolt://127.0.0.1:7687 points at this machine"):
        validate_runner_options(options, settings_from_options(options.view_as(MmkgOptions)).services)


def test_portable_runner_needs_a_reachable_job_endpoint(closed_port):
    with pytest.raises(RunnerConfigError, match="needs --job_endpoint"):
        validate_runner_options(PipelineOptions(["--runner=PortableRunner"]), WorkerServices())
    options = PipelineOptions(
        ["--runner=PortableRunner", f"--job_endpoint=127.0.0.1:{closed_port}", "--environment_type=LOOPBACK"]
    )
    with pytest.raises(RunnerConfigError, match=rf"cannot reach the Beam job service .* at 127.0.0.1:{closed_port}"):
        validate_runner_options(options, WorkerServices(embedded_graph=True, embedded_llm=True))


def test_flink_needs_flink_master():
    with pytest.raises(RunnerConfigError, match="needs --flink_master=HOST:PORT"):
        validate_flink_options(PipelineOptions(["--runner=FlinkRunner"]))


def test_flink_master_must_be_reachable(closed_port):
    options = PipelineOptions(flink_args(f"127.0.0.1:{closed_port}"))
    with pytest.raises(RunnerConfigError, match=rf"cannot reach the Flink JobManager .* at 127.0.0.1:{closed_port}"):
        validate_runner_options(options, WorkerServices())


def test_flink_with_a_running_job_server_checks_that_it_answers(listening_port, closed_port):
    base = ["--runner=FlinkRunner", "--environment_type=DOCKER", "--no-graph", "--llm", "none"]
    validate_runner_options(PipelineOptions(base + [f"--job_endpoint=127.0.0.1:{listening_port}"]), WorkerServices())
    with pytest.raises(RunnerConfigError, match=rf"cannot reach the Flink job server .* at 127.0.0.1:{closed_port}"):
        validate_runner_options(PipelineOptions(base + [f"--job_endpoint=127.0.0.1:{closed_port}"]), WorkerServices())


def flink_options(port, tmp_path, *extra):
    jar = tmp_path / "beam-runners-flink-job-server.jar"
    jar.write_bytes(b"PK")
    return PipelineOptions(
        flink_args(f"localhost:{port}", job_server_jar=str(jar), parallelism=2)
        + ["--no-graph", "--llm", "none", f"--job_server_java_launcher={sys.executable}", *extra]
    )


def test_flink_options_built_by_the_wrapper_pass(listening_port, tmp_path):
    options = flink_options(listening_port, tmp_path)
    assert options.view_as(StandardOptions).runner == "FlinkRunner"
    validate_runner_options(options, WorkerServices(embedded_graph=False, embedded_llm=False))


@pytest.mark.parametrize(
    "extra, error",
    [
        (["--flink_job_server_jar=/nonexistent/job-server.jar"], "no such file"),
        (["--job_server_java_launcher=/nonexistent/bin/java"], "not on PATH"),
        (["--environment_type=PROCESS"], "needs the worker boot command"),
        (["--environment_type=EXTERNAL"], "needs --environment_config=HOST:PORT"),
    ],
)
def test_flink_refuses_unusable_settings(listening_port, tmp_path, extra, error):
    with pytest.raises(RunnerConfigError, match=error):
        validate_runner_options(flink_options(listening_port, tmp_path, *extra), WorkerServices())


def test_direct_runs_use_the_fn_api_runner():
    options = PipelineOptions(["--direct_num_workers=2", "--direct_running_mode=multi_processing"])
    prepare_runner_options(options, WorkerServices(embedded_graph=True, embedded_llm=True))
    assert options.view_as(StandardOptions).runner == "FnApiRunner"
    single = PipelineOptions([])
    prepare_runner_options(single, WorkerServices(embedded_graph=True, embedded_llm=True))
    assert single.view_as(StandardOptions).runner == "FnApiRunner"  # not Prism: its worker pool listens on [::]
