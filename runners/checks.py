"""Checks a run's Beam runner options before anything starts.

A "local" run is one whose workers live on this machine and can reach 127.0.0.1: the
DirectRunner family, or a portable runner (PortableRunner, Flink, Spark) whose SDK workers run
in this very process (``--environment_type=LOOPBACK``) against a job service on this machine.
Everything else is distributed: its workers cannot see an embedded graph store or LLM server
that ``mmkg run`` would start beside the driver, so those must be given as URLs instead.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Optional

from apache_beam.options.pipeline_options import (
    DirectOptions,
    FlinkRunnerOptions,
    GoogleCloudOptions,
    PipelineOptions,
    PortableOptions,
    SparkRunnerOptions,
    StandardOptions,
    TestOptions,
)

from mmkg.runners.dataflow import validate_dataflow_options
from mmkg.runners.flink import validate_flink_options
from mmkg.runners.primitives import (
    EMBEDDED_CLUSTERS,
    RunnerConfigError,
    check_reachable,
    is_loopback_host,
    split_host_port,
)

_LOG = logging.getLogger(__name__)

# Runners that execute everything inside this machine's processes.
LOCAL_RUNNERS = frozenset(
    {
        "DirectRunner",
        "SwitchingDirectRunner",
        "BundleBasedDirectRunner",
        "FnApiRunner",
        "PrismRunner",
        "TestDirectRunner",
        "InteractiveRunner",
    }
)
# Runners that hand the job to a job service and run SDK workers where its environment says.
PORTABLE_RUNNERS = frozenset({"PortableRunner", "FlinkRunner", "SparkRunner"})
DATAFLOW_RUNNERS = frozenset({"DataflowRunner", "TestDataflowRunner"})
_KNOWN_RUNNERS = {
    path.rsplit(".", 1)[-1].lower(): path.rsplit(".", 1)[-1] for path in StandardOptions.ALL_KNOWN_RUNNERS
}


def runner_name(options: PipelineOptions) -> str:
    """The runner's class name, whether given as a name, a dotted path, a class or an instance."""
    runner = options.view_as(StandardOptions).runner
    if runner is None:
        return "DirectRunner"
    if isinstance(runner, str):
        name = runner.rsplit(".", 1)[-1]
        # Beam accepts "direct", "flink", "dataflow"... in any case, as it does here.
        return _KNOWN_RUNNERS.get(name.lower(), _KNOWN_RUNNERS.get(name.lower() + "runner", name))
    return runner.__name__ if isinstance(runner, type) else type(runner).__name__


def _environment_type(options: PipelineOptions) -> str:
    return (options.view_as(PortableOptions).environment_type or "").upper()


def is_local_run(options: PipelineOptions) -> bool:
    name = runner_name(options)
    if name in LOCAL_RUNNERS:
        return True
    if name not in PORTABLE_RUNNERS:
        return False
    env = _environment_type(options)
    if name == "PortableRunner":
        endpoint = options.view_as(PortableOptions).job_endpoint or ""
        on_this_machine = endpoint == "embed" or is_loopback_host(split_host_port(endpoint)[0])
        return on_this_machine and env == "LOOPBACK"
    if name == "FlinkRunner":
        master = options.view_as(FlinkRunnerOptions).flink_master
    else:
        master = options.view_as(SparkRunnerOptions).spark_master_url
        master = "[local]" if master.startswith("local") else master
    embedded = master in EMBEDDED_CLUSTERS
    if not (embedded or is_loopback_host(split_host_port(master)[0])):
        return False
    # Flink picks LOOPBACK itself for an embedded cluster when no environment is given.
    return env == "LOOPBACK" or (embedded and not env)


def _check_portable(options: PipelineOptions) -> None:
    endpoint = options.view_as(PortableOptions).job_endpoint
    if not endpoint:
        raise RunnerConfigError(
            "--runner=PortableRunner needs --job_endpoint=HOST:PORT, the address of a Beam job "
            "service (Flink's job server listens on 8099; for a local one run "
            "`python -m apache_beam.runners.portability.local_job_service_main --port 8099`)"
        )
    if endpoint != "embed":
        check_reachable(endpoint, "the Beam job service (--job_endpoint)")


def _check_runner_specific(options: PipelineOptions) -> None:
    name = runner_name(options)
    if name == "PortableRunner":
        _check_portable(options)
    elif name == "FlinkRunner":
        validate_flink_options(options)
    elif name in DATAFLOW_RUNNERS:
        validate_dataflow_options(options)


@dataclass(frozen=True)
class WorkerServices:
    """The servers a run's workers talk to: given by address, or embedded in this process."""

    graph_uri: Optional[str] = None  # an explicit graph server the run writes to
    llm_base_url: Optional[str] = None  # an explicit LLM endpoint the run asks
    embedded_graph: bool = False  # the run would start the embedded graph store here
    embedded_llm: bool = False  # the run would start the embedded LLM server here


def _check_services_reachable_from_workers(services: WorkerServices, name: str) -> None:
    """A URL on 127.0.0.1 means "this machine" to the driver and "the worker itself" to a worker."""
    for flag, url in (("--neo4j-uri", services.graph_uri), ("--llm-base-url", services.llm_base_url)):
        if url and is_loopback_host(split_host_port(url)[0]):
            raise RunnerConfigError(
                f"{flag} {url} points at this machine, but {name} runs the pipeline on other "
                f"machines, where that address means the worker itself. Give an address the "
                f"workers can reach."
            )


def validate_runner_options(options: PipelineOptions, services: WorkerServices) -> None:
    """Raises :class:`RunnerConfigError` when the run cannot work as configured.

    Call it before starting any embedded server.
    """
    if is_local_run(options):
        _check_runner_specific(options)
        return
    name = runner_name(options)
    missing = []
    if services.embedded_graph:
        missing.append("the graph store: pass --neo4j-uri=bolt://HOST:7687 (or --no-graph)")
    if services.embedded_llm:
        missing.append(
            "the LLM: pass --llm-base-url=http://HOST:PORT/v1 of an OpenAI-compatible server "
            "(or --llm none)"
        )
    if missing:
        raise RunnerConfigError(
            f"{name} runs the pipeline on workers that cannot reach servers embedded in this "
            f"process, so mmkg will not start them. Give the address of "
            + "; and of ".join(missing)
            + ". (Embedded servers work with DirectRunner, or a portable runner with "
            "--environment_type=LOOPBACK on this machine.)"
        )
    _check_services_reachable_from_workers(services, name)
    _check_runner_specific(options)


def use_multiprocess_runner(options: PipelineOptions) -> None:
    """Runs DirectRunner jobs on the FnApiRunner.

    Beam's DirectRunner first tries the Prism runner (a binary it downloads), which ignores
    ``--direct_running_mode``, runs every worker in this process and serves them from a worker
    pool that listens on all interfaces ("[::]"); the FnApiRunner honours
    ``--direct_num_workers``/``--direct_running_mode`` and, in one process, listens on nothing.
    """
    if runner_name(options) not in ("DirectRunner", "SwitchingDirectRunner"):
        return
    direct = options.view_as(DirectOptions)
    if direct.direct_running_mode != "in_memory" or direct.direct_num_workers != 1:
        _LOG.info(
            "running on the FnApiRunner: %s with %s worker(s)",
            direct.direct_running_mode,
            direct.direct_num_workers or "one per core",
        )
    options.view_as(StandardOptions).runner = "FnApiRunner"


def prepare_runner_options(options: PipelineOptions, services: WorkerServices) -> None:
    """:func:`validate_runner_options`, then the local-runner choice above."""
    validate_runner_options(options, services)
    use_multiprocess_runner(options)


def submits_only(options: PipelineOptions) -> bool:
    """True when ``run()`` only builds or submits the job (Dataflow dry run or template
    creation): there is nothing to wait for and no metrics to read."""
    return bool(
        options.view_as(TestOptions).dry_run or options.view_as(GoogleCloudOptions).template_location
    )
