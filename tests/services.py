"""Real servers for the tests, as their own processes on 127.0.0.1: Neo4j (neo4j-harness in a JVM)
and a standalone Flink cluster (a JobManager and a TaskManager process). Each is stopped by the
PID it was started with.

Nothing here downloads anything: ``.ci/fetch_services.py`` fetches and builds the artifacts
beforehand into ``MMKG_SERVICES_DIR`` (default ``~/.cache/mmkg``) and writes what it got, or why it
got nothing, into ``services.json`` there. :func:`missing` turns that into a skip reason.

Also a command line, for trying things by hand::

    python -m tests.services neo4j DATA_DIR [PORT]     # prints the Bolt URI, Ctrl-C stops it
    python -m tests.services flink-2.2.0 [REST_PORT]   # prints the REST address, Ctrl-C stops it
"""
from __future__ import annotations

import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from typing import Dict, List, Optional

from mmkg.kg.settings import GraphSettings

SERVICES_DIR = pathlib.Path(os.environ.get("MMKG_SERVICES_DIR", pathlib.Path.home() / ".cache" / "mmkg"))
MANIFEST = SERVICES_DIR / "services.json"
HOST = "127.0.0.1"
NEO4J_USER = "neo4j"
NEO4J_DATABASE = "neo4j"


def manifest() -> Dict[str, dict]:
    """What .ci/fetch_services.py left: {name: {"ok": bool, "path"...: ..., "error": ...}}."""
    try:
        return json.loads(MANIFEST.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def missing(name: str) -> Optional[str]:
    """Why the service ``name`` ("neo4j", "flink-2.2.0", "flink_job_server") cannot run here, or None."""
    if shutil.which("java") is None:
        return "no `java` on PATH (Java 17 is needed)"
    entry = manifest().get(name)
    if entry is None:
        return f"{name}: not fetched (run `python3 .ci/fetch_services.py`; looked in {MANIFEST})"
    if not entry.get("ok"):
        return f"{name}: not available: {entry.get('error', '?')}"
    for key in ("path", "home", "jar"):
        if key in entry and not pathlib.Path(entry[key]).exists():
            return f"{name}: {entry[key]} is gone (run `python3 .ci/fetch_services.py` again)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _wait_port(port: int, timeout: float, proc: Optional[subprocess.Popen] = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        with socket.socket() as s:
            s.settimeout(1.0)
            if s.connect_ex((HOST, port)) == 0:
                return True
        time.sleep(0.3)
    return False


def _stop_pid(proc: subprocess.Popen, sig: int, timeout: float) -> None:
    if proc.poll() is None:
        try:
            os.kill(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(30)


def _tail(path: pathlib.Path, n: int = 3000) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-n:]
    except OSError:
        return ""


class Neo4jServer:
    """Neo4j (neo4j-harness, Bolt on 127.0.0.1 only) in a JVM of its own, over ``data_dir``.

    The same interface as :class:`kg.embedded.EmbeddedGraphStore` where tests use it: ``start()``
    returns and ``settings`` holds the :class:`GraphSettings`; ``stop()`` kills the JVM by its PID
    (SIGKILL: the server is cut off, as by a crash; ``graceful=True`` shuts it down cleanly);
    ``start()`` again reopens the same files on the same port with the same password.
    """

    def __init__(self, data_dir: str, *, port: Optional[int] = None, password: str = "mmkg-test-neo4j-pw",
                 heap: str = "768m", start_timeout: float = 240.0):
        entry = manifest().get("neo4j") or {}
        self.classpath = entry.get("classpath")
        self.data_dir = pathlib.Path(data_dir).resolve()
        self.port = port or free_port()
        self.password = password
        self.heap = heap
        self.start_timeout = start_timeout
        self.proc: Optional[subprocess.Popen] = None
        self.log = self.data_dir / "server.log"
        self._settings: Optional[GraphSettings] = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def settings(self) -> GraphSettings:
        if self._settings is None:
            raise RuntimeError("Neo4j is not started")
        return self._settings

    @property
    def pid(self) -> Optional[int]:
        return self.proc.pid if self.proc is not None else None

    def start(self) -> GraphSettings:
        if self.running:
            return self.settings
        if not self.classpath:
            raise RuntimeError(missing("neo4j") or "neo4j: no classpath in the manifest")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, NEO4J_PASSWORD=self.password)
        cmd = ["java", f"-Xmx{self.heap}", "-XX:+UseSerialGC", "-cp", self.classpath,
               "mmkg.services.Neo4jTestServer", str(self.data_dir), str(self.port)]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Neo4j exited with {self.proc.returncode}:\n{_tail(self.log)}")
            if f"MMKG_NEO4J_READY bolt://{HOST}:{self.port}" in _tail(self.log, 400):
                break
            time.sleep(0.3)
        else:
            self.stop()
            raise RuntimeError(f"Neo4j did not start in {self.start_timeout:.0f} s:\n{_tail(self.log)}")
        self._settings = GraphSettings(f"bolt://{HOST}:{self.port}", NEO4J_USER, self.password, NEO4J_DATABASE)
        return self._settings

    def stop(self, graceful: bool = False) -> None:
        if self.proc is not None:
            _stop_pid(self.proc, signal.SIGTERM if graceful else signal.SIGKILL, 60)
            # The next start appends to the log: cut it, so that its READY line is the new one.
            with open(self.log, "ab") as log:
                log.write(b"\n--- stopped ---\n")

    def __enter__(self) -> "Neo4jServer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop(graceful=True)


FLINK_CONF_TEMPLATE = """\
jobmanager:
  rpc:
    address: {host}
    port: {rpc_port}
  bind-host: {host}
  memory:
    process:
      size: 1024m
taskmanager:
  bind-host: {host}
  host: {host}
  numberOfTaskSlots: {slots}
  memory:
    process:
      size: 2048m
    # A Beam pipeline is one Flink job of ~40 tasks: the default (10% of Flink's memory, ~2000
    # buffers) is too few ("Insufficient number of network buffers: required 512").
    network:
      min: 512m
      max: 512m
  data:
    port: 0
  rpc:
    port: 0
rest:
  address: {host}
  bind-address: {host}
  port: {rest_port}
blob:
  server:
    port: 0
parallelism:
  default: 1
io:
  tmp:
    dirs: {tmp}
"""


class FlinkCluster:
    """A standalone Flink session cluster from the unzipped apache-flink wheels: a JobManager and a
    TaskManager, each its own JVM (``bin/jobmanager.sh start-foreground``, ``bin/taskmanager.sh
    start-foreground``), every port on 127.0.0.1, each stopped by its PID."""

    def __init__(self, work_dir: str, *, version: str = "2.2.0", rest_port: Optional[int] = None, slots: int = 2,
                 flink_home: Optional[str] = None, start_timeout: float = 180.0):
        entry = manifest().get(f"flink-{version}") or {}
        self.flink_home = pathlib.Path(flink_home or entry.get("home", ""))
        self.version = entry.get("version")
        self.work = pathlib.Path(work_dir).resolve()
        self.rest_port = rest_port or free_port()
        self.rpc_port = free_port()
        self.slots = slots
        self.start_timeout = start_timeout
        self.procs: List[subprocess.Popen] = []

    @property
    def master(self) -> str:
        return f"localhost:{self.rest_port}"

    @property
    def rest(self) -> str:
        return f"http://{HOST}:{self.rest_port}"

    def _conf_dir(self) -> pathlib.Path:
        conf = self.work / "conf"
        conf.mkdir(parents=True, exist_ok=True)
        (self.work / "tmp").mkdir(exist_ok=True)
        (conf / "config.yaml").write_text(FLINK_CONF_TEMPLATE.format(
            host=HOST, rpc_port=self.rpc_port, rest_port=self.rest_port, slots=self.slots, tmp=self.work / "tmp"))
        for name in ("log4j.properties", "log4j-console.properties"):
            src = self.flink_home / "conf" / name
            if src.exists():
                shutil.copy(src, conf / name)
        return conf

    def _launch(self, script: str, conf: pathlib.Path) -> subprocess.Popen:
        """Flink's own launcher in the foreground: it computes the JVM's memory flags from the
        configuration and then execs java, so the child's PID is the JVM's."""
        log_dir = self.work / "log"
        log_dir.mkdir(exist_ok=True)
        env = dict(os.environ, FLINK_HOME=str(self.flink_home), FLINK_CONF_DIR=str(conf),
                   FLINK_LOG_DIR=str(log_dir), FLINK_PID_DIR=str(self.work))
        out = open(log_dir / (script.split(".")[0] + ".out"), "ab")
        try:
            return subprocess.Popen(["bash", str(self.flink_home / "bin" / script), "start-foreground"],
                                    stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    cwd=self.work, env=env, start_new_session=True)
        finally:
            out.close()

    def start(self) -> str:
        conf = self._conf_dir()
        self.procs.append(self._launch("jobmanager.sh", conf))
        if not _wait_port(self.rest_port, self.start_timeout, self.procs[0]):
            self.stop()
            raise RuntimeError(f"Flink's JobManager did not open {self.rest}:\n{self.logs()}")
        self.procs.append(self._launch("taskmanager.sh", conf))
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.procs):
                break
            try:
                if self.get("/taskmanagers")["taskmanagers"]:
                    return self.master
            except OSError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"no TaskManager registered with Flink's JobManager:\n{self.logs()}")

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(self.rest + path, timeout=10) as r:
            return json.loads(r.read())

    def jobs(self) -> List[dict]:
        """Every job the cluster knows: [{"jid", "name", "state", "start-time", "end-time", ...}]."""
        return self.get("/jobs/overview")["jobs"]

    def logs(self) -> str:
        return "\n".join(f"== {p.name}\n{_tail(p)}" for p in sorted((self.work / "log").glob("*")))

    def stop(self) -> None:
        for proc in reversed(self.procs):
            _stop_pid(proc, signal.SIGTERM, 60)
        self.procs = []

    def __enter__(self) -> "FlinkCluster":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _main(argv: List[str]) -> int:
    import sys
    import tempfile

    if not argv or not (argv[0] == "neo4j" or argv[0].startswith("flink-")):
        print(__doc__, file=sys.stderr)
        return 2
    reason = missing(argv[0])
    if reason:
        print(reason, file=sys.stderr)
        return 1
    if argv[0] == "neo4j":
        server = Neo4jServer(argv[1] if len(argv) > 1 else tempfile.mkdtemp(prefix="mmkg-neo4j-"),
                             port=int(argv[2]) if len(argv) > 2 else 7687,
                             password=os.environ.get("NEO4J_PASSWORD", "mmkg-test-neo4j-pw"))
        with server:
            print(f"Neo4j at {server.settings.uri} (user neo4j, pid {server.pid}); Ctrl-C stops it", flush=True)
            _wait_for_interrupt()
    else:
        cluster = FlinkCluster(tempfile.mkdtemp(prefix="mmkg-flink-"), version=argv[0].split("-", 1)[1],
                               rest_port=int(argv[1]) if len(argv) > 1 else 8081)
        with cluster:
            pids = ", ".join(str(p.pid) for p in cluster.procs)
            print(f"Flink {cluster.version} at {cluster.rest} (pids {pids}); Ctrl-C stops it", flush=True)
            _wait_for_interrupt()
    return 0


def _wait_for_interrupt() -> None:
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    import sys

    sys.exit(_main(sys.argv[1:]))
