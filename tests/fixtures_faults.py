"""A chat-completions server on 127.0.0.1 whose faults the test chooses, pair by pair.

The fault for a request is named inside the request itself: a post whose text holds
``fault=<kind>`` (or ``fault=<kind>x<n>``: only the first n attempts fail, later ones are
answered) gets that fault every time it is asked, whatever order or thread the requests arrive
in. So one pipeline can mix every fault kind with healthy pairs and each pair's outcome is known.

Kinds: ``500``, ``429`` (with ``Retry-After``), ``hang`` (no answer before the client's timeout),
``drop`` (connection closed without a response), ``malformed`` (a truncated JSON body), ``nochoices``
(a body without a choices list), ``empty_choice`` (``choices: []``), ``empty`` (empty content),
``offlabel`` (a label outside the candidates), ``notjson`` (content that is not the JSON asked
for), ``obey`` (a gullible model: it replies whatever the post tells it to after ``reply exactly:``),
``auth401`` (401 whose message echoes the API key, as OpenAI's does).

A request without a marker gets ``default_fault`` (None: a healthy answer). A healthy answer is
the guide's runner-up (the second label of the request's candidate enum), so
a pair the LLM decided is told apart from one the guide decided. Every request is logged with
its attempt number, arrival time and Authorization header.
"""
from __future__ import annotations

import json
import re
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Optional

import pytest

_MARKER = re.compile(r"fault=([a-z0-9_]+?)(?:x(\d+))?(?=[^a-z0-9_]|$)")
_OBEY = re.compile(r"reply exactly: (.*?) fault=obey", re.DOTALL)
_CANDIDATE_LINE = re.compile(r"^- (\S+) \(", re.MULTILINE)


@dataclass(frozen=True)
class Attempt:
    key: str  # the pair's user message: the same for every retry of one pair
    marker: str  # the post's fault marker as written (``fault=500x1``), "" for none
    kind: Optional[str]  # the fault served, None for a healthy answer
    number: int  # 1 for the first attempt of this key
    at: float  # time.monotonic() on arrival
    authorization: str


def chat_body(content: str, model: str = "fault-server") -> Dict:
    return {
        "id": "chatcmpl-fault",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13},
    }


def candidates_of(body: Dict) -> List[str]:
    """The labels a request allows: its response schema's enum, else the prompt's candidate lines."""
    try:
        return list(body["response_format"]["json_schema"]["schema"]["properties"]["relation"]["enum"])
    except (KeyError, TypeError):
        return _CANDIDATE_LINE.findall(_user_message(body))


def _user_message(body: Dict) -> str:
    return "\n".join(m.get("content") or "" for m in body.get("messages", []) if m.get("role") == "user")


class FaultServer:
    def __init__(self, retry_after: str = "1", hang_s: float = 30.0, default_fault: Optional[str] = None,
                 delay_s: float = 0.0):
        self.retry_after = retry_after
        self.default_fault = default_fault  # served to requests without a marker
        self.hang_s = hang_s
        self.delay_s = delay_s  # every request is held this long: long enough for others to overlap
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests the server held at once
        self.attempts: List[Attempt] = []
        self._counts: Dict[str, int] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # the test reads self.attempts instead
                pass

            def do_GET(self):
                self._json(200, {"status": "ok"})

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.loads(raw or b"{}")
                server._serve(self, body)

            def _json(self, status: int, obj, headers: Optional[Dict[str, str]] = None) -> None:
                self._raw(status, json.dumps(obj).encode(), headers)

            def _raw(self, status: int, payload: bytes, headers: Optional[Dict[str, str]] = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

        class Server(ThreadingHTTPServer):
            # The default listen backlog (5) refuses part of a burst of concurrent requests,
            # which would be a fault the test did not choose.
            request_queue_size = 128
            daemon_threads = True

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fault-server", daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> "FaultServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases hanging handlers
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    # -- what the test reads ----------------------------------------------------------------

    def attempts_for(self, marker: str) -> List[Attempt]:
        """Attempts of the pairs whose post holds exactly ``marker`` (e.g. ``fault=500``), in order."""
        return [a for a in self.attempts if a.marker == marker]

    # -- serving ----------------------------------------------------------------------------

    def _serve(self, h, body: Dict) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay_s:
                self._stopping.wait(self.delay_s)
            self._answer(h, body)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _answer(self, h, body: Dict) -> None:
        key = _user_message(body)
        match = _MARKER.search(key)
        kind, limit = (match.group(1), match.group(2)) if match else (self.default_fault, None)
        with self._lock:
            number = self._counts[key] = self._counts.get(key, 0) + 1
            if kind is not None and limit is not None and number > int(limit):
                kind = None  # the fault has passed: answer normally
            self.attempts.append(Attempt(key, match.group(0) if match else "", kind, number, time.monotonic(), h.headers.get("Authorization", "")))
        labels = candidates_of(body)
        if kind is None:
            answer = labels[1] if len(labels) > 1 else (labels[0] if labels else "None")
            h._json(200, chat_body(json.dumps({"relation": answer})))
        elif kind == "500":
            h._json(500, {"error": {"message": "injected server error", "type": "server_error"}})
        elif kind == "429":
            h._json(429, {"error": {"message": "rate limited", "type": "rate_limit"}}, {"Retry-After": self.retry_after})
        elif kind == "hang":
            self._stopping.wait(self.hang_s)
            try:
                h._json(200, chat_body(json.dumps({"relation": labels[0]})))
            except OSError:  # the client gave up long ago
                pass
        elif kind == "drop":
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
        elif kind == "malformed":
            h._raw(200, b'{"id": "x", "choices": [{"message": {"content": "{\\"rela')
        elif kind == "nochoices":
            h._json(200, {"id": "x", "object": "chat.completion", "model": "m"})
        elif kind == "empty_choice":
            reply = chat_body("")
            reply["choices"] = []
            h._json(200, reply)
        elif kind == "empty":
            h._json(200, chat_body(""))
        elif kind == "offlabel":
            off = next(lbl for lbl in ("/per/per/parent", "/misc/loc/held_on") if lbl not in labels)
            h._json(200, chat_body(json.dumps({"relation": off})))
        elif kind == "notjson":
            h._json(200, chat_body('{relation: couple, because they kiss'))
        elif kind == "obey":
            told = _OBEY.search(key)
            h._json(200, chat_body(told.group(1) if told else "I obey"))
        elif kind == "auth401":
            presented = h.headers.get("Authorization", "").removeprefix("Bearer ")
            h._json(401, {"error": {"message": f"Incorrect API key provided: {presented}.", "type": "invalid_request_error",
                                    "code": "invalid_api_key"}})
        else:
            h._json(400, {"error": {"message": f"fault server: unknown fault {kind!r}"}})


@pytest.fixture
def llm_faults():
    """A running :class:`FaultServer` (Retry-After 1 s), stopped after the test."""
    server = FaultServer().start()
    yield server
    server.stop()
