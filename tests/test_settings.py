"""Flags are parsed once, in pipeline.options, into the settings every stage is handed."""
import json

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from mmkg.cli import run
from mmkg.pipeline.options import MmkgOptions, SettingsError, settings_from_options
from mmkg.refiner.gate_store import plan_stage2
from mmkg.refiner.settings import LlmSettings
from mmkg.transforms.refine import Decide

FLINK = ["--runner=FlinkRunner", "--flink_master=flink.example.com:8081"]


def settings(*argv, env=None):
    return settings_from_options(PipelineOptions(["--input", "x.jsonl", *argv]).view_as(MmkgOptions), env or {})


def test_llm_local_with_a_base_url_is_refused_on_a_distributed_runner(capsys):
    # --llm local starts the embedded server whatever the base URL says; a distributed runner's
    # workers could not reach it, so the run must stop before anything starts.
    argv = ["--no-graph", "--llm", "local", "--llm-base-url", "http://llm.example.com:8000/v1",
            "--llm-model", "m"]
    assert settings(*argv).services.embedded_llm
    assert run.main(["--input", "examples/posts.jsonl", *argv, *FLINK]) == 2
    err = capsys.readouterr().err
    assert "servers embedded in this process" in err and "the LLM: pass --llm-base-url" in err


def test_the_summary_names_a_graph_server_given_only_in_the_environment(graph_store, monkeypatch, capsys, tmp_path):
    store = graph_store.settings
    for name, value in (("NEO4J_URI", store.uri), ("NEO4J_USERNAME", store.username),
                        ("NEO4J_PASSWORD", store.password), ("NEO4J_DATABASE", store.database)):
        monkeypatch.setenv(name, value)
    posts = tmp_path / "posts.jsonl"
    posts.write_text(json.dumps({"id": "env-1", "text": "Ann works for Acme.", "entities": [
        {"text": "Ann", "start": 0, "end": 3, "type": "PER"},
        {"text": "Acme", "start": 14, "end": 18, "type": "ORG"}]}) + "\n")
    data_dir = tmp_path / "data"
    assert run.main(["--input", str(posts), "--data-dir", str(data_dir), "--llm", "none"]) == 0
    out = capsys.readouterr().out
    assert f"  graph               {store.uri}" in out
    assert "embedded store" not in out and "--data-dir" not in out
    assert not (data_dir / "graph").exists()  # nothing embedded was started


@pytest.mark.parametrize("flag, value", [("--llm-concurrency", "0"), ("--llm-concurrency", "-2"),
                                         ("--llm-budget", "-1"), ("--guide-batch-size", "0"), ("--top-k", "0")])
def test_impossible_numbers_are_errors_not_defaults(flag, value, capsys):
    with pytest.raises(SettingsError, match=f"{flag} must be at least"):
        settings(flag, value)
    assert run.main(["--input", "examples/posts.jsonl", "--no-graph", flag, value]) == 2
    assert f"{flag} must be at least" in capsys.readouterr().err


def test_flags_then_environment_then_defaults():
    env = {"OPENAI_BASE_URL": "http://llm.example.com/v1", "OPENAI_MODEL": "env-model", "NEO4J_URI": "bolt://db:7687"}
    s = settings("--llm-concurrency", "7", env=env)
    assert (s.llm.base_url, s.llm.model, s.llm.concurrency) == ("http://llm.example.com/v1", "env-model", 7)
    assert s.graph.uri == "bolt://db:7687" and not s.uses_embedded_graph
    assert s.llm.cache_path.startswith(s.data_dir) and s.output_prefix.startswith(s.data_dir)
    s = settings()
    assert s.llm.needs_local_server and s.graph is None and s.uses_embedded_graph
    assert s.llm.concurrency == LlmSettings.concurrency
    assert settings("--llm", "none", "--no-graph").services.embedded_llm is False
    assert not settings("--no-graph").services.embedded_graph
    with pytest.raises(SettingsError, match="needs --llm-model"):
        settings("--llm-base-url", "http://llm.example.com/v1")


def test_the_gate_is_decided_once_before_the_stage():
    # The shipped calibration closes SmolLM2's gate: the run turns the LLM off there, and
    # Decide, which no longer reads gating.json, refuses an LLM without a gate.
    plan = plan_stage2(settings().llm, None)
    assert plan.llm is None and plan.off_reason == "llm gate closed for smollm2-135m-instruct"
    with pytest.raises(ValueError, match="needs the gate"):
        Decide(LlmSettings(base_url="http://127.0.0.1:9/v1", model="m"))
