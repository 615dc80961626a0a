"""Running mmkg on Apache Flink: the flags it needs and the checks made before submission.

``--runner=FlinkRunner`` starts Beam's Flink job server (a Java program; Beam fetches its jar from
Maven Central on first use) which submits the job to the Flink cluster at ``--flink_master``.
Offline, pass the jar with ``--flink_job_server_jar``. See docs/runners.md.
"""
from __future__ import annotations

import logging
import os
import shutil
from typing import List, Optional, Sequence

from apache_beam.options.pipeline_options import FlinkRunnerOptions, PipelineOptions, PortableOptions

from mmkg.runners.primitives import (
    EMBEDDED_CLUSTERS,
    RunnerConfigError,
    check_reachable,
    is_loopback_host,
    split_host_port,
)

_LOG = logging.getLogger(__name__)
FLINK_VERSIONS = tuple(FlinkRunnerOptions.PUBLISHED_FLINK_VERSIONS)
FLINK_REST_PORT = 8081
ENVIRONMENT_TYPES = ("DOCKER", "PROCESS", "EXTERNAL", "LOOPBACK")


def flink_args(
    flink_master: str,
    environment_type: str = "DOCKER",
    environment_config: Optional[str] = None,
    parallelism: Optional[int] = None,
    flink_version: Optional[str] = None,
    job_server_jar: Optional[str] = None,
    extra: Sequence[str] = (),
) -> List[str]:
    """The Beam flags of a Flink run, to append to ``mmkg run``'s own flags."""
    env = environment_type.upper()
    if env not in ENVIRONMENT_TYPES:
        raise RunnerConfigError(f"environment type {environment_type!r} is not one of {', '.join(ENVIRONMENT_TYPES)}")
    args = ["--runner=FlinkRunner", f"--flink_master={flink_master}", f"--environment_type={env}"]
    if environment_config:
        args.append(f"--environment_config={environment_config}")
    if parallelism:
        args.append(f"--parallelism={parallelism}")
    if flink_version:
        args.append(f"--flink_version={flink_version}")
    if job_server_jar:
        args.append(f"--flink_job_server_jar={job_server_jar}")
    return args + list(extra)


def cached_job_server_jar(flink_version: str) -> str:
    """Where Beam keeps the job-server jar it downloaded (it fetches it only when absent)."""
    from apache_beam.utils.subprocess_server import JavaJarServer

    url = JavaJarServer.path_to_beam_jar(f":runners:flink:{flink_version}:job-server:shadowJar")
    if os.path.exists(url):  # a jar built inside a Beam source tree
        return url
    return os.path.join(JavaJarServer.JAR_CACHE, os.path.basename(url))


def _has_environment_setting(options: PipelineOptions, key: str) -> bool:
    portable = options.view_as(PortableOptions)
    settings = portable.environment_options or []
    return bool(portable.environment_config) or any(s.startswith(key + "=") for s in settings)


def _check_environment(options: PipelineOptions, env: str) -> None:
    if env == "PROCESS" and not _has_environment_setting(options, "process_command"):
        raise RunnerConfigError(
            "--environment_type=PROCESS needs the worker boot command: "
            "--environment_config='{\"command\": \"/opt/apache/beam/boot\"}'"
        )
    if env == "EXTERNAL" and not _has_environment_setting(options, "external_service_address"):
        raise RunnerConfigError(
            "--environment_type=EXTERNAL needs --environment_config=HOST:PORT of a running "
            "Beam worker pool (python -m apache_beam.runners.worker.worker_pool_main)"
        )


def validate_flink_options(options: PipelineOptions) -> None:
    """Raises :class:`~runners.primitives.RunnerConfigError` for a Flink run that cannot start."""
    flink = options.view_as(FlinkRunnerOptions)
    env = (options.view_as(PortableOptions).environment_type or "").upper()
    _check_environment(options, env)
    job_endpoint = options.view_as(PortableOptions).job_endpoint
    if job_endpoint:
        # A job server that is already running (e.g. Beam's Flink job-server container): it knows
        # its Flink cluster, and no jar or Java is needed here.
        check_reachable(job_endpoint, "the Flink job server (--job_endpoint)")
        return
    given = options.get_all_options(drop_default=True)
    if "flink_master" not in given:
        raise RunnerConfigError(
            "--runner=FlinkRunner needs --flink_master=HOST:PORT, the REST address of the Flink "
            f"JobManager (usually port {FLINK_REST_PORT}); --flink_master=[local] runs an "
            "embedded Flink inside the job server instead"
        )
    master = flink.flink_master
    if master not in EMBEDDED_CLUSTERS:
        check_reachable(master, "the Flink JobManager (--flink_master)", FLINK_REST_PORT)
        if env == "LOOPBACK" and not is_loopback_host(split_host_port(master)[0]):
            raise RunnerConfigError(
                "--environment_type=LOOPBACK runs the workers inside this process, which a remote "
                "Flink cluster cannot reach: use DOCKER (the default), PROCESS or EXTERNAL"
            )
    jar = flink.flink_job_server_jar
    if jar:
        if "://" not in jar and not os.path.isfile(jar):
            raise RunnerConfigError(f"--flink_job_server_jar {jar}: no such file")
    elif not os.path.exists(cached_job_server_jar(flink.flink_version)):
        # Not an error: with network access Beam downloads it. Offline it would fail later, less clearly.
        _LOG.warning(
            "Beam will download the Flink %s job-server jar from Maven Central; offline, "
            "download beam-runners-flink-%s-job-server-<beam version>.jar elsewhere and pass "
            "--flink_job_server_jar=PATH",
            flink.flink_version,
            flink.flink_version,
        )
    if not flink.flink_submit_uber_jar:
        java = options.get_all_options().get("job_server_java_launcher") or "java"
        if shutil.which(java) is None:
            raise RunnerConfigError(
                f"FlinkRunner starts Beam's Flink job server with {java!r}, which is not on "
                "PATH: install a Java 11+ runtime, or pass --flink_submit_uber_jar to upload "
                "the job to Flink's REST API directly, or run the job server yourself and use "
                "--runner=PortableRunner --job_endpoint=HOST:8099"
            )
