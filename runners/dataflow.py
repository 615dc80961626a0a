"""Running mmkg on Google Cloud Dataflow: the flags it needs and the checks made before submission.

Needs the ``gcp`` extra (``pip install -c constraints.txt '.[gcp]'``). Workers install mmkg from
the package that ``--setup_file`` builds (or use a container image that has it). See
docs/runners.md.
"""
from __future__ import annotations

import os
from typing import List, Optional, Sequence

from apache_beam.options.pipeline_options import (
    GoogleCloudOptions,
    PipelineOptions,
    SetupOptions,
    WorkerOptions,
)
from apache_beam.options.pipeline_options_validator import PipelineOptionsValidator

from mmkg.runners.primitives import RunnerConfigError

DEFAULT_GPU_MACHINE = "n1-standard-8"
# An endpoint on localhost tells Beam it is not talking to the Dataflow service, so it does not
# insist on gs:// locations; creating a template never calls the endpoint.
OFFLINE_ENDPOINT = "http://localhost"


def dataflow_args(
    project: str,
    region: str,
    temp_location: str,
    setup_file: str = "./setup.py",
    machine_type: Optional[str] = None,
    gpu_type: Optional[str] = None,
    gpu_count: int = 1,
    max_num_workers: Optional[int] = None,
    job_name: Optional[str] = None,
    extra: Sequence[str] = (),
) -> List[str]:
    """The Beam flags of a Dataflow run, to append to ``mmkg run``'s own flags.

    ``gpu_type`` (e.g. ``nvidia-tesla-t4``, ``nvidia-l4``) attaches GPUs to every worker, for the
    guide model; T4s go on N1 machines, L4s need a G2 machine type (``g2-standard-8``).
    """
    args = [
        "--runner=DataflowRunner",
        f"--project={project}",
        f"--region={region}",
        f"--temp_location={temp_location}",
        f"--setup_file={setup_file}",
        "--experiments=use_runner_v2",
    ]
    if gpu_type:
        machine_type = machine_type or DEFAULT_GPU_MACHINE
        args.append(
            f"--dataflow_service_options=worker_accelerator=type:{gpu_type};count:{gpu_count};"
            "install-nvidia-driver"
        )
    if machine_type:
        args.append(f"--machine_type={machine_type}")
    if max_num_workers:
        args.append(f"--max_num_workers={max_num_workers}")
    if job_name:
        args.append(f"--job_name={job_name}")
    return args + list(extra)


def local_template_args(template_path: str, staging_dir: str) -> List[str]:
    """Flags that write the job as a Dataflow template to local files instead of submitting it:
    the job graph goes to ``template_path`` and the staged files (the mmkg package, the pipeline
    proto) to ``staging_dir``. No credentials or network needed; for inspecting a job."""
    os.makedirs(staging_dir, exist_ok=True)
    os.makedirs(os.path.dirname(os.path.abspath(template_path)), exist_ok=True)
    return [
        f"--template_location={template_path}",
        f"--staging_location={staging_dir}",
        f"--temp_location={staging_dir}",
        f"--dataflow_endpoint={OFFLINE_ENDPOINT}",
        "--no_auth",
    ]


def gcp_extra_installed() -> bool:
    try:
        import apache_beam.io.gcp.gcsio  # noqa: F401
        import google.cloud.dataflow  # noqa: F401  (Beam's Dataflow client)
    except ImportError:
        return False
    return True


def _is_local_template(gcp: GoogleCloudOptions) -> bool:
    return bool(gcp.template_location) and not gcp.template_location.startswith("gs://")


def validate_dataflow_options(options: PipelineOptions) -> None:
    """Raises :class:`~runners.primitives.RunnerConfigError` for a Dataflow job that cannot start."""
    if not gcp_extra_installed():
        raise RunnerConfigError(
            "DataflowRunner needs the Google Cloud libraries: "
            "pip install -c constraints.txt 'mmkg[gcp]' (or '.[gcp]' in a checkout)"
        )
    gcp = options.view_as(GoogleCloudOptions)
    missing = [flag for flag, value in (("--project", gcp.project), ("--region", gcp.region)) if not value]
    if missing:
        raise RunnerConfigError(f"DataflowRunner needs {' and '.join(missing)}")
    # Beam's own checks, run here so that a bad name is an error now: left to Beam, an invalid
    # bucket name makes it look for a default bucket over the network first.
    validator = PipelineOptionsValidator(options, None)
    errors = validator.validate_cloud_options(gcp)
    local_ok = _is_local_template(gcp)
    if not gcp.temp_location:
        raise RunnerConfigError("DataflowRunner needs --temp_location=gs://BUCKET/tmp")
    for flag, value in (("--temp_location", gcp.temp_location), ("--staging_location", gcp.staging_location)):
        if value and value.startswith("gs://"):
            errors += validator.validate_gcs_path(gcp, flag.lstrip("-"))
        if value and not value.startswith("gs://") and not local_ok:
            raise RunnerConfigError(
                f"{flag} {value} must be a gs:// path that the Dataflow workers can read "
                "(local paths only work with a local --template_location)"
            )
        if value and local_ok and not value.startswith("gs://") and not os.path.isdir(value):
            raise RunnerConfigError(f"{flag} {value}: no such directory")
    if errors:
        raise RunnerConfigError("; ".join(errors))
    setup = options.view_as(SetupOptions)
    image = options.view_as(WorkerOptions).sdk_container_image
    if not setup.setup_file and not image:
        raise RunnerConfigError(
            "Dataflow workers need mmkg installed: pass --setup_file=./setup.py (builds and "
            "stages the package) or --sdk_container_image=IMAGE with mmkg in it"
        )
    if setup.setup_file and not os.path.isfile(setup.setup_file):
        raise RunnerConfigError(f"--setup_file {setup.setup_file}: no such file")
