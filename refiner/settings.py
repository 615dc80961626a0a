"""The refiner's settings as one picklable record (built from the flags by pipeline.options).

The API key itself is never stored here (this record is pickled into the job graph): only the
name of the environment variable that holds it, read by the worker when it opens its client.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Optional

LOCAL_MODEL_NAME = "smollm2-135m-instruct"
# Placeholder for servers that want no key: the openai client refuses an empty one.
NO_KEY = "no-key"


@dataclass(frozen=True)
class LlmSettings:
    """Where and how to call the LLM.

    ``base_url`` None means "start the embedded local server" (see :mod:`refiner.local_server`,
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
    local_threads: int = 0  # llama.cpp threads of the embedded server; 0: refiner.local_server picks

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
