"""Beam's own Python job service on 127.0.0.1: the job API that Flink's job server speaks, so a
PortableRunner run against it goes through the same submission path as a Flink run."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

START_TIMEOUT_S = 60


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def job_service(tmp_path_factory):
    """``HOST:PORT`` of a running local job service; stopped (by its PID) after the session."""
    d = tmp_path_factory.mktemp("jobservice")
    port_file = d / "port"
    log = open(d / "jobservice.log", "wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "apache_beam.runners.portability.local_job_service_main",
            "--port",
            "0",  # the service picks a free port and writes it to --port_file: no race for it
            "--port_file",
            str(port_file),
            "--staging_dir",
            str(d / "staging"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        port = None
        while port is None or not _listening(port):
            if port is None and port_file.exists():
                port = int(port_file.read_text())
            if proc.poll() is not None:
                pytest.fail(f"job service exited with {proc.returncode}: {(d / 'jobservice.log').read_text()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"job service did not start listening within {START_TIMEOUT_S}s")
            time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
