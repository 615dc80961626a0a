"""The progress line: shown on a terminal for in-process runs, counting what the run counts;
absent otherwise, with the job graph unchanged."""
import io
import json

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from mmkg.cli import run
from mmkg.pipeline.build import build
from mmkg.pipeline.options import MmkgOptions, settings_from_options
from mmkg.transforms import progress


def _posts(tmp_path, n=3):
    path = tmp_path / "posts.jsonl"
    ents = [{"text": "Ann", "start": 0, "end": 3, "type": "PER"}, {"text": "Acme", "start": 14, "end": 18, "type": "ORG"},
            {"text": "Paris", "start": 22, "end": 27, "type": "LOC"}]
    path.write_text("".join(json.dumps({"id": f"p{i}", "text": "Ann works for Acme in Paris.", "entities": ents}) + "\n"
                            for i in range(n)))
    return path


def _settings(*argv, terminal):
    opts = PipelineOptions(["--input", "x.jsonl", *argv]).view_as(MmkgOptions)
    return settings_from_options(opts, {}, terminal=terminal)


def test_only_on_a_terminal_and_only_for_workers_in_this_process():
    assert _settings(terminal=True).progress
    assert _settings("--direct_num_workers=2", "--direct_running_mode=multi_threading", terminal=True).progress
    assert not _settings(terminal=False).progress
    assert not _settings("--direct_num_workers=2", "--direct_running_mode=multi_processing", terminal=True).progress
    assert not _settings("--runner=FlinkRunner", terminal=True).progress


def test_the_line_counts_posts_and_pairs_of_an_in_process_run(tmp_path):
    posts = _posts(tmp_path)
    s = _settings("--input", str(posts), "--llm", "none", "--no-graph", "--data-dir", str(tmp_path / "d"),
                  terminal=True)
    stream = io.StringIO()
    with progress.showing(s.progress, stream) as display:
        with beam.Pipeline(options=PipelineOptions(["--runner=DirectRunner"])) as p:
            build(p, s)
    counted = {c.key.metric.name: c.committed for c in p.result.metrics().query()["counters"]}
    assert display.counts == {progress.POSTS: 3, progress.PAIRS: counted["pairs_scored"]} and counted["pairs_scored"] > 0
    assert "pairs scored" in stream.getvalue() and "posts read 3" in stream.getvalue()


def test_a_run_whose_stderr_is_not_a_terminal_shows_nothing(tmp_path, capsys):
    posts = _posts(tmp_path, 1)
    s = _settings("--input", str(posts), "--llm", "none", "--no-graph", terminal=False)
    p = beam.Pipeline(options=PipelineOptions(["--runner=DirectRunner"]))
    build(p, s)
    labels = {t.full_label for t in p.transforms_stack[0].parts}
    assert not any("Progress" in label for label in labels)
    assert run.main(["--input", str(posts), "--llm", "none", "--no-graph", "--data-dir", str(tmp_path / "d")]) == 0
    captured = capsys.readouterr()
    assert "pairs scored" not in captured.err and "mmkg run finished" in captured.out
