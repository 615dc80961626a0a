"""Torch threads per worker: workers x threads <= cores, from one typed setting."""
import apache_beam as beam
import pytest
import torch
from apache_beam.options.pipeline_options import PipelineOptions

from mmkg.guide.settings import GuideSettings
from mmkg.pipeline.options import MmkgOptions, SettingsError, settings_from_options
from mmkg.runtime.threads import available_cores, threads_per_worker
from mmkg.schemas.mnre_split import read_mnre
from mmkg.transforms.guide import ScorePairs
from tests.conftest import mnre_path


def guide(*argv):
    return settings_from_options(PipelineOptions(["--input", "x.jsonl", *argv]).view_as(MmkgOptions), {}).guide


def test_workers_share_the_cores():
    cores = available_cores()
    assert threads_per_worker(0, 1, busy=0) == cores
    assert threads_per_worker(0, 2, busy=0) == max(1, cores // 2)
    assert threads_per_worker(0, 4 * cores, busy=0) == 1
    assert threads_per_worker(0, 0, busy=0) == 1  # one worker per core
    assert threads_per_worker(3, 2, busy=0) == 3  # asked for: taken as it is


def test_cores_that_other_processes_keep_busy_are_left_to_them():
    cores = available_cores()
    assert threads_per_worker(0, 1, busy=cores - 1) == 1
    assert threads_per_worker(0, 1, busy=cores + 3) == 1
    assert threads_per_worker(0, 1, busy=0.4) == cores
    assert threads_per_worker(2, 1, busy=cores + 3) == 2  # asked for: taken as it is


def test_the_worker_count_comes_from_the_runner_flags():
    assert (guide().torch_threads, guide().workers_per_machine) == (0, 1)
    assert guide("--direct_num_workers=2", "--direct_running_mode=multi_processing").workers_per_machine == 2
    assert guide("--direct_num_workers=0").workers_per_machine == 0
    assert guide("--runner=DataflowRunner").workers_per_machine == 0
    assert guide("--runner=DataflowRunner", "--experiments=no_use_multiple_sdk_containers").workers_per_machine == 1
    assert guide("--torch-threads", "3").torch_threads == 3
    with pytest.raises(SettingsError, match="--torch-threads must be at least 0"):
        guide("--torch-threads", "-1")


def test_loading_the_guide_sets_the_workers_threads():
    # In-process DirectRunner: the worker is this process, so its torch setting is visible here.
    pairs = read_mnre(str(mnre_path("mnre_val.txt")), limit=4)
    before = torch.get_num_threads()
    want = 1 if before != 1 else 2
    try:
        with beam.Pipeline(options=PipelineOptions(["--runner=DirectRunner"])) as p:
            _ = p | beam.Create(pairs) | ScorePairs(GuideSettings(device="cpu", torch_threads=want))
        assert torch.get_num_threads() == want
    finally:
        torch.set_num_threads(before)
