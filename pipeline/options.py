"""Every setting of a run comes in through here, once.

This module alone knows the flag names, the environment variables and the defaults. It parses
them into typed records (:class:`RunSettings`: reading, NER, guide, LLM, graph, the services a
runner's workers must reach) that are handed down; nothing below ``pipeline/`` reads options by
name. A record's own field default is the flag's default, so each default is written once.

Flags use dashes (``--data-dir``); Beam's own flags (``--runner``, ``--direct_num_workers``...) are
left to Beam. Secrets are read from the environment when the flag is absent, and are never put in
the options themselves when they came from the environment, so they do not end up in a job graph
that a runner may log or stage.
"""
from __future__ import annotations

import argparse
import os
import uuid
from dataclasses import dataclass
from typing import Mapping, Optional

from apache_beam.options.pipeline_options import DebugOptions, DirectOptions, PipelineOptions, StandardOptions

from mmkg.guide.settings import GuideSettings
from mmkg.kg.settings import DEFAULT_USERNAME, GraphSettings
from mmkg.ner.pairs import DEFAULT_MAX_PAIRS_PER_POST
from mmkg.ner.settings import NER_CONVENTIONS, NER_DEFAULT, SPACY_PREFIX, NerSettings
from mmkg.refiner.settings import LlmSettings
from mmkg.resolve.scoring import DEFAULT as DEFAULT_RESOLVE
from mmkg.resolve.scoring import Params, params_with
from mmkg.resolve.text_settings import DEFAULT_TEXT_ENCODER, NONE, TextSettings
from mmkg.runners.checks import WorkerServices
from mmkg.runtime import flags
from mmkg.schemas.validation import ReadConfig
from mmkg.transforms.graph_writer import DEFAULT_BATCH_SIZE as WRITE_GRAPH_BATCH_SIZE
from mmkg.transforms.triple_sink import DEFAULT_MIN_CONFIDENCE

DEFAULT_DATA_DIR = "./mmkg-data"
INPUT_FORMATS = ("jsonl", "parquet", "mnre")
LLM_MODES = ("none", "auto", "local", "remote")
LLM_CACHE_FILE = "llm-cache.sqlite3"

ENV_LLM_BASE_URL = "OPENAI_BASE_URL"
ENV_LLM_MODEL = "OPENAI_MODEL"
ENV_NEO4J_URI = "NEO4J_URI"
ENV_NEO4J_USERNAME = "NEO4J_USERNAME"
ENV_NEO4J_PASSWORD = "NEO4J_PASSWORD"
ENV_NEO4J_DATABASE = "NEO4J_DATABASE"


class SettingsError(ValueError):
    """The flags (or the environment) cannot make a run; the message says what to change."""


def add_data_dir_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        dest="data_dir",
        default=DEFAULT_DATA_DIR,
        help="where a local run keeps the embedded graph, Parquet output, dead letters, LLM cache",
    )


def add_graph_flags(parser: argparse.ArgumentParser) -> None:
    """The graph store's flags: `mmkg run`'s, and those of commands that only talk to the graph."""
    add_data_dir_flag(parser)
    parser.add_argument(
        "--neo4j-uri",
        dest="neo4j_uri",
        default=None,
        help=f"bolt:// or neo4j:// URI; {ENV_NEO4J_URI}; absent: the embedded store under --data-dir",
    )
    parser.add_argument(
        "--neo4j-username", dest="neo4j_username", default=None,
        help=f"{ENV_NEO4J_USERNAME}; default {DEFAULT_USERNAME}",
    )
    parser.add_argument("--neo4j-database", dest="neo4j_database", default=None, help=ENV_NEO4J_DATABASE)


def add_model_flags(parser: argparse.ArgumentParser) -> None:
    """The guide's and the LLM's flags: `mmkg run`'s, `mmkg evaluate`'s and `mmkg calibrate`'s."""
    guide = GuideSettings
    parser.add_argument(
        "--checkpoint", dest="checkpoint", default=guide.checkpoint,
        help="guide checkpoint directory (default: the shipped one)",
    )
    parser.add_argument("--top-k", dest="top_k", type=int, default=guide.top_k)
    flags.add_device(parser, guide.device, what="the guide")
    flags.add_precision(parser, guide.precision)
    parser.add_argument(
        "--torch-threads", dest="torch_threads", type=int, default=guide.torch_threads,
        help="torch threads per worker process; 0: the machine's cores shared among its workers "
        "(--direct_num_workers; one per core on Dataflow)",
    )
    parser.add_argument(
        "--image-dir",
        dest="image_dir",
        default=ReadConfig.image_dir,
        help="directory that relative image paths (and MNRE img_id) resolve against",
    )
    llm = LlmSettings
    parser.add_argument(
        "--llm",
        dest="llm",
        default="auto",
        choices=LLM_MODES,
        type=str.lower,
        help=f"'none' runs the guide alone; 'auto' uses --llm-base-url/{ENV_LLM_BASE_URL} or "
        "starts the embedded local model; 'local' always starts it; 'remote' needs an endpoint",
    )
    parser.add_argument("--llm-base-url", dest="llm_base_url", default=None, help=ENV_LLM_BASE_URL)
    parser.add_argument("--llm-model", dest="llm_model", default=None, help=ENV_LLM_MODEL)
    parser.add_argument(
        "--llm-api-key-env",
        dest="llm_api_key_env",
        default=llm.api_key_env,
        help="name of the environment variable that holds the API key",
    )
    parser.add_argument("--llm-concurrency", dest="llm_concurrency", type=int, default=llm.concurrency)
    parser.add_argument("--llm-timeout", dest="llm_timeout", type=float, default=llm.timeout_s)
    parser.add_argument("--llm-max-retries", dest="llm_max_retries", type=int, default=llm.max_retries)
    parser.add_argument(
        "--llm-budget", dest="llm_budget", type=int, default=llm.budget, help="max LLM calls per run"
    )


class MmkgOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser):
        # Input.
        parser.add_argument("--input", dest="input", help="file or glob of posts")
        parser.add_argument(
            "--format",
            dest="input_format",
            choices=INPUT_FORMATS,
            default=None,
            help="input format; guessed from the extension when absent",
        )
        parser.add_argument("--max-text-chars", dest="max_text_chars", type=int, default=ReadConfig.max_text_chars)
        parser.add_argument(
            "--max-image-pixels",
            dest="max_image_pixels",
            type=int,
            default=ReadConfig.max_image_pixels,
            help="images larger than this are refused (decompression-bomb guard)",
        )
        parser.add_argument(
            "--ner-model",
            dest="ner_model",
            default=NER_DEFAULT,
            help="entities for posts that have none: 'default' (the shipped NER student), an NER "
            "checkpoint directory (mmkg train-ner), or spacy:NAME for a spaCy pipeline",
        )
        parser.add_argument("--ner-batch-size", dest="ner_batch_size", type=int, default=NerSettings.batch_size)
        parser.add_argument(
            "--ner-recall-penalty",
            dest="ner_recall_penalty",
            type=float,
            default=NerSettings.recall_penalty,
            help="propose the spans of a second NER decoding with this much taken off every O "
            "score as candidates for the guide (0: off)",
        )
        parser.add_argument(
            "--ner-mentions",
            dest="ner_mentions",
            action=argparse.BooleanOptionalAction,
            default=NerSettings.mentions,
            help="propose untagged @mentions (not a retweet's source) as untyped candidate entities",
        )
        parser.add_argument(
            "--ner-convention",
            dest="ner_convention",
            default=None,
            choices=NER_CONVENTIONS,
            help="whose entity boundaries the NER student draws: 'mnre' (relation heads and tails, "
            "the shipped student's default) or 'twitter' (Twitter-2015/2017's); default: the checkpoint's",
        )
        parser.add_argument(
            "--output",
            dest="output",
            default=None,
            help="prefix for Parquet/JSONL outputs (default: DATA_DIR/out/)",
        )
        add_model_flags(parser)
        parser.add_argument(
            "--guide-batch-size", dest="guide_batch_size", type=int, default=GuideSettings.batch_size,
            help="most pairs RunInference hands the guide at once",
        )
        parser.add_argument(
            "--guide-sub-batch-size", dest="guide_sub_batch_size", type=int, default=GuideSettings.sub_batch_size,
            help="pairs per forward pass, after sorting a batch by token length",
        )
        add_graph_flags(parser)
        parser.add_argument(
            "--graph-batch-size", dest="graph_batch_size", type=int, default=WRITE_GRAPH_BATCH_SIZE,
            help="rows per graph transaction",
        )
        parser.add_argument(
            "--no-graph", dest="no_graph", action="store_true", help="write Parquet only"
        )
        parser.add_argument(
            "--no-resolve", dest="no_resolve", action="store_true",
            help="no entity resolution: one graph node per type and exact normalised name (as before "
            "issue 24), e.g. to compare; by default names of one entity (Louvre, @LouvreMuseum) are one node",
        )
        parser.add_argument(
            "--resolve-param", dest="resolve_params", action="append", default=None, metavar="NAME=VALUE",
            help="a resolution threshold other than its default, e.g. fuzzy_word_loc=88 (demonyms join their "
            "country) or ctx_word=never; repeatable. The defaults were chosen for precision by "
            "cross-validation (docs/resolution.md); a graph resolved with other thresholds is scored "
            "again, not mixed",
        )
        parser.add_argument(
            "--resolve-encoder", dest="resolve_encoder", default=DEFAULT_TEXT_ENCODER, metavar="ENCODER",
            help="the sentence encoder whose vectors of the posts' texts are evidence that two names are one "
            "entity (a local directory or a Hugging Face name; default: the offline all-MiniLM-L6-v2); "
            "'none': the names' context alone",
        )
        parser.add_argument(
            "--no-place-check", dest="no_place_check", action="store_true",
            help="keep the guide's place-contains-place triples as it decided them; by default GeoNames "
            "confirms (confidence >= 0.8) or overrules (confidence 0) those it is sure of",
        )
        parser.add_argument(
            "--max-pairs-per-post", dest="max_pairs_per_post", type=int, default=DEFAULT_MAX_PAIRS_PER_POST,
            help="candidate pairs of a post with detected entities, nearest mentions first (the rest are "
            "counted in the summary); MNRE's annotated pairs are never cut",
        )
        parser.add_argument(
            "--min-confidence", dest="min_confidence", type=float, default=DEFAULT_MIN_CONFIDENCE,
            help="triples below this confidence stay in the triples Parquet but do not reach the graph "
            "(docs/evaluation.md: how the default was chosen, and the recall it costs)",
        )


@dataclass(frozen=True)
class RunSettings:
    """One run, resolved: what ``mmkg run`` hands to the builder, the services and the summary."""

    input: Optional[str]
    input_format: Optional[str]  # None: guessed from the extension by the reader
    data_dir: str
    output_prefix: str
    read: ReadConfig
    ner: NerSettings
    guide: GuideSettings
    llm: Optional[LlmSettings]  # None: --llm none
    graph: Optional[GraphSettings]  # an explicit server; None: the embedded store (or no graph)
    write_graph: bool
    graph_batch_size: int
    max_pairs_per_post: int = DEFAULT_MAX_PAIRS_PER_POST
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    progress: bool = False  # a progress line on stderr while the run runs (transforms.progress)
    resolve: bool = True  # entity resolution before the graph write (--no-resolve: exact keys)
    resolve_params: Params = DEFAULT_RESOLVE  # its thresholds (--resolve-param)
    resolve_text: TextSettings = TextSettings()  # its posts' text vectors (--resolve-encoder)
    check_places: bool = True  # the gazetteer's check of contain triples (--no-place-check: off)

    @property
    def uses_embedded_graph(self) -> bool:
        return self.write_graph and self.graph is None

    @property
    def services(self) -> WorkerServices:
        """What a distributed runner's workers would have to reach. The embedded LLM counts
        whether or not its gate turns out closed: that depends on calibration, and a run
        should not be accepted on one runner or refused by accident of it."""
        return WorkerServices(
            graph_uri=self.graph.uri if self.write_graph and self.graph else None,
            llm_base_url=self.llm.base_url if self.llm else None,
            embedded_graph=self.uses_embedded_graph,
            embedded_llm=self.llm is not None and self.llm.needs_local_server,
        )


def graph_from_values(
    uri: Optional[str],
    username: Optional[str] = None,
    database: Optional[str] = None,
    env: Optional[Mapping[str, str]] = None,
) -> Optional[GraphSettings]:
    """Settings for an explicit server, flags first, then the environment.

    Returns None when no URI is configured anywhere: the caller then uses the embedded store.
    The password is only ever read from the environment (a flag would show it in `ps`).
    """
    env = os.environ if env is None else env
    uri = uri or env.get(ENV_NEO4J_URI)
    if not uri:
        return None
    return GraphSettings(
        uri=uri,
        username=username or env.get(ENV_NEO4J_USERNAME) or DEFAULT_USERNAME,
        password=env.get(ENV_NEO4J_PASSWORD, ""),
        database=database or env.get(ENV_NEO4J_DATABASE) or None,
        password_env=ENV_NEO4J_PASSWORD if env is os.environ else None,
    )


def graph_from_options(opts, env: Optional[Mapping[str, str]] = None) -> Optional[GraphSettings]:
    return graph_from_values(opts.neo4j_uri, opts.neo4j_username, opts.neo4j_database, env)


def _probability(value, flag: str) -> float:
    if value is None or not 0.0 <= value <= 1.0:
        raise SettingsError(f"{flag} must lie in [0, 1], got {value}")
    return float(value)


def resolve_params_of(values) -> Params:
    """``--resolve-param NAME=VALUE`` flags -> the resolution thresholds."""
    try:
        return params_with(values or ())
    except ValueError as e:
        raise SettingsError(f"--resolve-param {e}") from None


def _at_least(value, least, flag: str):
    if value is None or value < least:
        raise SettingsError(f"{flag} must be at least {least}, got {value}")
    return value


def llm_from_options(opts, env: Optional[Mapping[str, str]] = None, run_id: str = "") -> Optional[LlmSettings]:
    """``MmkgOptions`` -> the LLM's settings; None when ``--llm none``.

    ``--llm auto`` uses ``--llm-base-url`` or ``OPENAI_BASE_URL`` when set, else the embedded
    server; ``local`` always starts the embedded server; ``remote`` requires an endpoint.
    ``run_id`` defaults to a fresh one (it scopes the run's call budget): call this once.
    """
    env = os.environ if env is None else env
    mode = opts.llm
    if mode == "none":
        return None
    base_url = None
    if mode in ("auto", "remote"):
        base_url = opts.llm_base_url or env.get(ENV_LLM_BASE_URL) or None
    if mode == "remote" and not base_url:
        raise SettingsError(f"--llm remote needs --llm-base-url or {ENV_LLM_BASE_URL}")
    model = opts.llm_model or env.get(ENV_LLM_MODEL) or None
    if base_url and not model:
        raise SettingsError(f"a remote LLM endpoint needs --llm-model (or {ENV_LLM_MODEL})")
    return LlmSettings(
        base_url=base_url,
        model=model,
        api_key_env=opts.llm_api_key_env,
        concurrency=_at_least(opts.llm_concurrency, 1, "--llm-concurrency"),
        timeout_s=_at_least(opts.llm_timeout, 0.001, "--llm-timeout"),
        max_retries=_at_least(opts.llm_max_retries, 0, "--llm-max-retries"),
        budget=_at_least(opts.llm_budget, 0, "--llm-budget"),
        cache_path=os.path.join(opts.data_dir, LLM_CACHE_FILE),
        run_id=run_id or uuid.uuid4().hex,
    )


def ner_from_options(opts) -> NerSettings:
    value = (opts.ner_model or NER_DEFAULT).strip()
    common = dict(device=opts.device, precision=opts.precision, batch_size=_at_least(opts.ner_batch_size, 1, "--ner-batch-size"),
                  recall_penalty=_at_least(opts.ner_recall_penalty, 0.0, "--ner-recall-penalty"),
                  mentions=bool(opts.ner_mentions), convention=opts.ner_convention or None,
                  torch_threads=_at_least(opts.torch_threads, 0, "--torch-threads"),
                  workers_per_machine=workers_per_machine(opts))
    if value.startswith(SPACY_PREFIX):
        name = value[len(SPACY_PREFIX):]
        if not name:
            raise SettingsError("--ner-model spacy:NAME needs a spaCy pipeline name or path")
        return NerSettings(spacy=name, **common)
    if value == NER_DEFAULT:
        return NerSettings(**common)
    if not os.path.isfile(os.path.join(value, "config.json")):
        raise SettingsError(f"--ner-model {value!r}: not 'default', not spacy:NAME, and not an NER checkpoint "
                            "directory (no config.json there)")
    return NerSettings(checkpoint=value, **common)


_DIRECT_RUNNERS = ("DirectRunner", "SwitchingDirectRunner")


def _runner(opts) -> str:
    """The runner's class name (Beam also takes a dotted path); DirectRunner when none is set."""
    return (opts.view_as(StandardOptions).runner or "DirectRunner").rsplit(".", 1)[-1]


def workers_per_machine(opts) -> int:
    """How many processes (or threads) run models side by side on one machine; 0: one per core.

    DirectRunner runs --direct_num_workers of them (0 means one per core there too); Dataflow
    runs one SDK process per vCPU unless told otherwise. Other runners: taken as 1 (pass
    --torch-threads where a machine runs several)."""
    runner = _runner(opts)
    if runner in _DIRECT_RUNNERS:
        return max(0, opts.view_as(DirectOptions).direct_num_workers)
    if "Dataflow" in runner:
        experiments = opts.view_as(DebugOptions).experiments or []
        return 1 if "no_use_multiple_sdk_containers" in experiments else 0
    return 1


def guide_from_options(opts) -> GuideSettings:
    return GuideSettings(
        checkpoint=opts.checkpoint,
        device=opts.device,
        precision=opts.precision,
        batch_size=_at_least(opts.guide_batch_size, 1, "--guide-batch-size"),
        sub_batch_size=_at_least(opts.guide_sub_batch_size, 1, "--guide-sub-batch-size"),
        top_k=_at_least(opts.top_k, 1, "--top-k"),
        torch_threads=_at_least(opts.torch_threads, 0, "--torch-threads"),
        workers_per_machine=workers_per_machine(opts),
    )


def shows_progress(opts, terminal: bool) -> bool:
    """A progress line only on a terminal, and only where the workers run in this process
    (DirectRunner in memory or with threads), the one place it can count them from."""
    direct = opts.view_as(DirectOptions)
    in_process = direct.direct_num_workers == 1 or direct.direct_running_mode != "multi_processing"
    return terminal and _runner(opts) in _DIRECT_RUNNERS and in_process


def settings_from_options(opts: MmkgOptions, env: Optional[Mapping[str, str]] = None,
                          terminal: bool = False) -> RunSettings:
    """The whole run's settings; raises :class:`SettingsError` for flags that cannot work.
    ``terminal``: whether stderr is one (a progress line is shown there)."""
    output = opts.output or os.path.join(opts.data_dir, "out") + os.sep
    return RunSettings(
        input=opts.input,
        input_format=opts.input_format,
        data_dir=opts.data_dir,
        output_prefix=output,
        read=ReadConfig(
            image_dir=opts.image_dir,
            max_text_chars=_at_least(opts.max_text_chars, 1, "--max-text-chars"),
            max_image_pixels=_at_least(opts.max_image_pixels, 1, "--max-image-pixels"),
        ),
        ner=ner_from_options(opts),
        guide=guide_from_options(opts),
        llm=llm_from_options(opts, env),
        graph=None if opts.no_graph else graph_from_options(opts, env),
        write_graph=not opts.no_graph,
        graph_batch_size=_at_least(opts.graph_batch_size, 1, "--graph-batch-size"),
        max_pairs_per_post=_at_least(opts.max_pairs_per_post, 1, "--max-pairs-per-post"),
        min_confidence=_probability(opts.min_confidence, "--min-confidence"),
        progress=shows_progress(opts, terminal),
        resolve=not opts.no_resolve,
        resolve_params=resolve_params_of(opts.resolve_params),
        resolve_text=TextSettings(opts.resolve_encoder.strip() or NONE,
                                  torch_threads=_at_least(opts.torch_threads, 0, "--torch-threads"),
                                  workers_per_machine=workers_per_machine(opts)),
        check_places=not opts.no_place_check,
    )
