"""The Dataflow job, built offline: a dry run of the real DataflowRunner, and a template written to
local files whose job graph and staged mmkg package are inspected. No credentials, no network."""
from __future__ import annotations

import json
import pathlib
import tarfile

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.runner import PipelineState

from mmkg.pipeline.build import build
from mmkg.pipeline.options import MmkgOptions, settings_from_options
from mmkg.runners.checks import RunnerConfigError, WorkerServices, validate_runner_options
from mmkg.runners.dataflow import dataflow_args, gcp_extra_installed, local_template_args
from mmkg.runtime.scratch import scratch_directory

pytestmark = pytest.mark.skipif(
    not gcp_extra_installed(),
    reason="the gcp extra is not installed (pip install -c constraints.txt '.[gcp]')",
)

REPO = pathlib.Path(__file__).resolve().parents[1]
SECRET = "sk-test-must-not-be-staged"
MMKG_FLAGS = [
    "--input=gs://mmkg-test/posts/*.jsonl",
    "--output=gs://mmkg-test/out/",
    "--neo4j-uri=bolt://graph.example.com:7687",
    "--llm-base-url=http://llm.example.com:8000/v1",
    "--llm-model=test-model",
]
STAGES = ("ReadPosts", "DetectEntities", "EnumeratePairs", "WriteDeadLetters")


def job_options(*extra) -> PipelineOptions:
    args = dataflow_args(
        project="mmkg-test",
        region="europe-west1",
        temp_location="gs://mmkg-test/tmp",
        setup_file=str(REPO / "setup.py"),
        gpu_type="nvidia-tesla-t4",
    )
    options = PipelineOptions(args + MMKG_FLAGS + list(extra))
    validate_runner_options(options, settings_from_options(options.view_as(MmkgOptions)).services)
    return options


def run_job(options):
    # As `mmkg run` does: what Beam stages for the job (a 69 MB sdist of mmkg) goes under a
    # scratch directory that is removed afterwards.
    with scratch_directory():
        p = beam.Pipeline(options=options)
        build(p, settings_from_options(options.view_as(MmkgOptions)))
        return p.run()


def transform_names(proto_pipeline):
    return {t.unique_name for t in proto_pipeline.components.transforms.values()}


@pytest.fixture
def secrets_in_env(monkeypatch):
    """Secrets live in the driver's environment; none may end up in the job that gets staged."""
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("NEO4J_PASSWORD", SECRET)


def test_dry_run_builds_the_job(secrets_in_env):
    result = run_job(job_options("--dry_run=True", "--no_auth"))
    assert result.state == PipelineState.DONE
    proto = result.job.proto_pipeline
    assert set(STAGES) <= transform_names(proto)
    # Workers run Beam's container and install mmkg from the package built from setup.py.
    [env] = [e for e in proto.components.environments.values() if e.dependencies]
    assert env.urn == "beam:env:docker:v1"
    assert b"workflow.tar.gz" in b"".join(d.role_payload for d in env.dependencies)
    assert SECRET not in result.job.json()
    assert SECRET.encode() not in proto.SerializeToString()


def test_template_with_local_staging_holds_the_graph_and_the_package(tmp_path, secrets_in_env):
    template, staging = tmp_path / "template.json", tmp_path / "staging"
    run_job(job_options(*local_template_args(str(template), str(staging))))

    job = json.loads(template.read_text())
    assert job["type"] == "JOB_TYPE_BATCH"
    options = job["environment"]["sdkPipelineOptions"]["options"]
    assert "use_runner_v2" in options["experiments"]
    assert any(o.startswith("worker_accelerator=type:nvidia-tesla-t4") for o in options["dataflow_service_options"])
    assert options["machine_type"] == "n1-standard-8"
    assert options["neo4j_uri"] == "bolt://graph.example.com:7687"
    packages = {p["name"]: p["location"] for p in job["environment"]["workerPools"][0]["packages"]}
    assert packages["workflow.tar.gz"] == str(staging / "workflow.tar.gz")

    from apache_beam.portability.api import beam_runner_api_pb2

    proto = beam_runner_api_pb2.Pipeline.FromString((staging / "pipeline.pb").read_bytes())
    assert set(STAGES) <= transform_names(proto)

    with tarfile.open(staging / "workflow.tar.gz") as sdist:
        members = {m.split("/", 1)[1] for m in sdist.getnames() if "/" in m}
    assert {"setup.py", "pipeline/build.py", "transforms/readers.py", "runners/checks.py", "schemas/records.py"} <= members

    staged_text = template.read_text() + (staging / "pipeline.pb").read_bytes().decode("latin-1")
    assert SECRET not in staged_text


def test_refuses_local_temp_location_for_a_real_submission():
    with pytest.raises(RunnerConfigError, match="must be a gs:// path"):
        job_options("--temp_location=/tmp/somewhere")


def test_refuses_the_embedded_servers_on_dataflow():
    options = PipelineOptions(
        dataflow_args("mmkg-test", "europe-west1", "gs://mmkg-test/tmp", str(REPO / "setup.py"))
        + ["--input=gs://mmkg-test/posts/*.jsonl"]
    )
    with pytest.raises(RunnerConfigError) as e:
        validate_runner_options(options, WorkerServices(embedded_graph=True, embedded_llm=True))
    assert "--neo4j-uri" in str(e.value) and "--llm-base-url" in str(e.value)


@pytest.mark.parametrize(
    "argv, error",
    [
        (["--project=my-project", "--temp_location=gs://mmkg-test/t", f"--setup_file={REPO / 'setup.py'}"], "needs --region"),
        (["--region=r", "--temp_location=gs://mmkg-test/t", f"--setup_file={REPO / 'setup.py'}"], "needs --project"),
        (["--project=my-project", "--region=r", f"--setup_file={REPO / 'setup.py'}"], "needs --temp_location=gs://"),
        (["--project=my-project", "--region=r", "--temp_location=gs://mmkg-test/t"], "--setup_file=./setup.py"),
        (["--project=my-project", "--region=r", "--temp_location=gs://mmkg-test/t", "--setup_file=/nonexistent/setup.py"], "no such file"),
        (["--project=my-project", "--region=r", "--temp_location=gs://b/t", f"--setup_file={REPO / 'setup.py'}"], "Invalid GCS bucket"),
        (["--project=P Q", "--region=r", "--temp_location=gs://mmkg-test/t", f"--setup_file={REPO / 'setup.py'}"], "Invalid Project ID"),
    ],
)
def test_refuses_incomplete_dataflow_options(argv, error):
    options = PipelineOptions(["--runner=DataflowRunner", "--no-graph", "--llm", "none", *argv])
    with pytest.raises(RunnerConfigError, match=error):
        validate_runner_options(options, WorkerServices(embedded_graph=False, embedded_llm=False))
