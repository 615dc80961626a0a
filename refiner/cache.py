"""Persistent answer cache and per-run call budget, in one SQLite file under the data dir.

SQLite in WAL mode with a busy timeout is safe for several worker processes (and threads, each
behind this object's lock) writing at once; a key is the hash of everything that determines the
answer (model and the exact request), so a re-run with the same prompts makes no new calls.
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import Any, Dict, Optional

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    content TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS budget (
    run_id TEXT PRIMARY KEY,
    used INTEGER NOT NULL
);
"""


def request_key(body: Dict[str, Any]) -> str:
    """Stable hash of a chat request: the same model and the same prompt give the same key."""
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CachedAnswer:
    content: str
    prompt_tokens: int
    completion_tokens: int


class AnswerCache:
    def __init__(self, path: str, timeout_s: float = 60.0):
        self.path = path
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, timeout=timeout_s, check_same_thread=False, isolation_level=None)
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)

    def get(self, key: str) -> Optional[CachedAnswer]:
        with self._lock:
            row = self._conn.execute(
                "SELECT content, prompt_tokens, completion_tokens FROM answers WHERE key = ?", (key,)
            ).fetchone()
        return CachedAnswer(*row) if row else None

    def put(self, key: str, model: str, answer: CachedAnswer) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?)",
                (key, model, answer.content, answer.prompt_tokens, answer.completion_tokens, time.time()),
            )

    def claim_call(self, run_id: str, budget: int) -> bool:
        """Takes one call from the run's budget; False once it is spent. Atomic across processes:
        the conditional UPDATE runs under SQLite's write lock."""
        with self._lock:
            self._conn.execute("INSERT OR IGNORE INTO budget VALUES (?, 0)", (run_id,))
            cur = self._conn.execute(
                "UPDATE budget SET used = used + 1 WHERE run_id = ? AND used < ?", (run_id, budget)
            )
            return cur.rowcount == 1

    def calls_used(self, run_id: str) -> int:
        with self._lock:
            row = self._conn.execute("SELECT used FROM budget WHERE run_id = ?", (run_id,)).fetchone()
        return int(row[0]) if row else 0

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM answers").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()
