"""The refiner's settings as one picklable record, built from the command line's options.

The API key itself is never stored here (this record is pickled into the job graph): only the
name of the environment variable that holds it, read by the worker when it opens its client.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Optional

LLM_MODES = ("none", "auto", "local", "remote")
LOCAL_MODEL_NAME = "smollm2-135m-instruct"
CACHE_FILE = "llm-cache.sqlite3"
# Placeholder for servers that want no key: the openai client refuses an empty one.
NO_KEY = "no-key"


@dataclass(frozen=True)
class LlmSettings:
    """Where and how to call the LLM.

    ``base_url`` None means "start the embedded local server" (see :mod:`llm.local_server`,
    which returns a copy with it filled in). ``run_id`` scopes the per-run call budget in the
    cache database, so all worker processes of one run share a single budget.
    """

    base_url: Optional[str] = None
    model: Optional[str] = None
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = 4
    timeout_s: float = 60.0
    max_retries: int = 3
    budget: int = 10000
    cache_path: Optional[str] = None
    response_format: str = "json_schema"  # json_schema | json_object | none
    max_tokens: int = 32
    temperature: float = 0.0
    run_id: str = ""
    local_threads: int = 0  # llama.cpp threads of the embedded server; 0: llm.local_server picks

    @property
    def needs_local_server(self) -> bool:
        return not self.base_url

    @property
    def expected_model(self) -> str:
        """The model name answers will come from, known before any server starts (gating.json is
        keyed by it)."""
        return LOCAL_MODEL_NAME if self.needs_local_server else (self.model or "")

    def api_key(self) -> str:
        return os.environ.get(self.api_key_env or "", "") or NO_KEY

    def with_endpoint(self, base_url: str, model: str) -> "LlmSettings":
        """The settings pointed at a server this process started (its model name wins)."""
        return dataclasses.replace(self, base_url=base_url, model=model)

    def __repr__(self) -> str:  # never shows a key (there is none here), keeps logs short
        return (
            f"LlmSettings(base_url={self.base_url!r}, model={self.model!r}, "
            f"concurrency={self.concurrency}, budget={self.budget}, run_id={self.run_id!r})"
        )


def default_cache_path(data_dir: str) -> str:
    return os.path.join(data_dir, CACHE_FILE)


def llm_settings_from_options(opts, run_id: str = "") -> Optional[LlmSettings]:
    """``MmkgOptions`` -> settings; None when ``--llm none``.

    ``--llm auto`` uses ``--llm-base-url`` or ``OPENAI_BASE_URL`` when set, else the embedded
    server; ``local`` always starts the embedded server; ``remote`` requires an endpoint.
    ``run_id`` defaults to a fresh one: call this once, in the launcher.
    """
    import uuid

    mode = (getattr(opts, "llm", None) or "auto").lower()
    if mode not in LLM_MODES:
        raise ValueError(f"--llm must be one of {', '.join(LLM_MODES)}, got {mode!r}")
    if mode == "none":
        return None
    base_url = None
    if mode in ("auto", "remote"):
        base_url = getattr(opts, "llm_base_url", None) or os.environ.get("OPENAI_BASE_URL") or None
    if mode == "remote" and not base_url:
        raise ValueError("--llm remote needs --llm-base-url or OPENAI_BASE_URL")
    model = getattr(opts, "llm_model", None) or os.environ.get("OPENAI_MODEL") or None
    if base_url and not model:
        raise ValueError("a remote LLM endpoint needs --llm-model (or OPENAI_MODEL)")
    data_dir = getattr(opts, "data_dir", None) or "./mmkg-data"
    return LlmSettings(
        base_url=base_url,
        model=model,
        api_key_env=getattr(opts, "llm_api_key_env", None) or "OPENAI_API_KEY",
        concurrency=max(1, int(getattr(opts, "llm_concurrency", 4) or 4)),
        timeout_s=float(getattr(opts, "llm_timeout", 60.0) or 60.0),
        max_retries=max(0, int(getattr(opts, "llm_max_retries", 3))),
        budget=max(0, int(getattr(opts, "llm_budget", 10000))),
        cache_path=default_cache_path(data_dir),
        run_id=run_id or uuid.uuid4().hex,
    )
