"""What each Beam runner needs: option checks before a run (``checks``, built on ``primitives``),
and thin wrappers that build the flags for Flink and Dataflow. See docs/runners.md."""
