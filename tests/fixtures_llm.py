"""Real LLM endpoints for tests, on 127.0.0.1 only.

``local_llm``: the embedded llama.cpp server with SmolLM2-135M (session-scoped: started once).
``llm_proxy``: a real HTTP server in front of it that injects scripted faults (500, 429 with
Retry-After, hangs, dropped connections, malformed JSON, an empty choice list, a fixed reply)
before forwarding, so that retry and fallback paths are exercised over the wire.
"""
from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Optional

import pytest

from mmkg.refiner.local_server import LocalServer, local_llm_server

# Fault kinds the proxy understands. "reply:<text>" answers 200 with <text> as the content;
# "status:<code>:<message>" answers that HTTP status with an OpenAI-style error.
FAULTS = ("500", "429", "hang", "drop", "malformed", "empty_choice")


def chat_reply(content: str, model: str = "proxy") -> Dict:
    return {
        "id": "chatcmpl-proxy",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


class FaultProxy:
    """Answers each POST with the next scripted fault, then (script empty) forwards to
    ``upstream`` (an OpenAI-compatible root without /v1) or, with no upstream, replies
    ``default_reply``. ``requests`` records the paths and bodies it received."""

    def __init__(self, upstream: Optional[str] = None, hang_s: float = 5.0, default_reply: str = '{"relation": "None"}'):
        self.upstream = upstream
        self.hang_s = hang_s
        self.default_reply = default_reply
        self.script: List[str] = []
        self.requests: List[Dict] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                self._send(200, b'{"status": "ok"}')

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with proxy._lock:
                    proxy.requests.append({"path": self.path, "body": json.loads(body or b"{}")})
                    fault = proxy.script.pop(0) if proxy.script else None
                if fault == "500":
                    self._send(500, b'{"error": {"message": "injected"}}')
                elif fault == "429":
                    self._send(429, b'{"error": {"message": "slow down"}}', {"Retry-After": "1"})
                elif fault == "hang":
                    time.sleep(proxy.hang_s)
                    self._send(500, b'{"error": {"message": "late"}}')
                elif fault == "drop":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                elif fault == "malformed":
                    self._send(200, b'{"choices": [ {"message": ')
                elif fault == "empty_choice":
                    reply = chat_reply("")
                    reply["choices"] = []
                    self._send(200, json.dumps(reply).encode())
                elif fault and fault.startswith("status:"):
                    _, code, message = fault.split(":", 2)
                    self._send(int(code), json.dumps({"error": {"message": message}}).encode())
                elif fault and fault.startswith("reply:"):
                    self._send(200, json.dumps(chat_reply(fault[len("reply:"):])).encode())
                elif proxy.upstream:
                    req = urllib.request.Request(
                        proxy.upstream + self.path, data=body, headers={"Content-Type": "application/json"}
                    )
                    with urllib.request.urlopen(req, timeout=120) as r:
                        self._send(r.status, r.read())
                else:
                    self._send(200, json.dumps(chat_reply(proxy.default_reply)).encode())

            def _send(self, status, payload, headers=None):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> "FaultProxy":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="session")
def local_llm(tmp_path_factory) -> LocalServer:
    # The log goes under pytest's own temporary folder rather than a file left behind in /tmp.
    log = tmp_path_factory.mktemp("llm") / "server.log"
    with local_llm_server(parallel=4, log_path=str(log)) as srv:
        yield srv


@pytest.fixture
def llm_proxy(local_llm):
    proxy = FaultProxy(upstream=local_llm.base_url[: -len("/v1")]).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def fault_server():
    """A fault-injecting OpenAI-compatible server with no model behind it (canned replies)."""
    proxy = FaultProxy().start()
    yield proxy
    proxy.stop()


def make_scores(
    text: str,
    head: str,
    tail: str,
    candidates,
    *,
    decision: Optional[str] = None,
    head_type: Optional[str] = None,
    tail_type: Optional[str] = None,
    post_id: str = "p1",
    gold: Optional[str] = None,
    image_id: Optional[str] = None,
):
    """A RelationScores record as the guide would emit it, for a pair named by its surface text.
    ``candidates`` are (label, prob), best first; the rest of the mass is spread evenly."""
    from mmkg.schemas.records import EntityMention, EntityPair, ImageRef, RelationScores
    from mmkg.schemas.relations import RELATIONS

    hs, ts = text.index(head), text.index(tail)
    pair = EntityPair(
        post_id=post_id,
        text=text,
        head=EntityMention(head, hs, hs + len(head), head_type),
        tail=EntityMention(tail, ts, ts + len(tail), tail_type),
        image=ImageRef(image_id=image_id, path="/nonexistent/" + image_id) if image_id else None,
        gold=gold,
    )
    given = dict(candidates)
    rest = (1.0 - sum(given.values())) / max(1, len(RELATIONS) - len(given))
    probs = tuple(given.get(lbl, rest) for lbl in RELATIONS)
    top = candidates[0]
    return RelationScores(
        pair=pair,
        labels=RELATIONS,
        probs=probs,
        candidates=tuple(candidates),
        decision=decision if decision is not None else top[0],
        confidence=given.get(decision, top[1]) if decision else top[1],
        model_version="guide-test",
    )
