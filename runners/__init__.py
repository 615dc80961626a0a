"""What each Beam runner needs: option checks before a run, and thin wrappers that build the
flags for Flink and Dataflow. See docs/runners.md."""
from mmkg.runners.checks import (
    RunnerConfigError,
    is_local_run,
    prepare_runner_options,
    runner_name,
    submits_only,
    validate_runner_options,
)

__all__ = [
    "RunnerConfigError",
    "is_local_run",
    "prepare_runner_options",
    "runner_name",
    "submits_only",
    "validate_runner_options",
]
