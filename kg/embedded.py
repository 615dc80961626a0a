"""The default graph store: ArcadeDB running inside this process, reached over Bolt.

With no Neo4j URI configured, a run (or `mmkg query`) starts ArcadeDB from the arcadedb-embedded
wheel, which bundles its own Java runtime, with the Bolt plugin listening on 127.0.0.1. The
pipeline then talks to it with exactly the neo4j-driver code it uses for a real Neo4j.

Layout under ``DATA_DIR/graph/`` (the store survives the run):

- ``databases/mmkg/``   the ArcadeDB database
- ``config/``           ArcadeDB's server config (users with a hashed root password)
- ``credentials.json``  the generated root password, mode 0600, so a later process can log in
- ``endpoint.json``     pid and Bolt port of the process that has the store open (while it does)
- ``store.lock``        flock held while the store is open: one process owns the files at a time
- ``log/``              ArcadeDB's and the JVM's own logs, kept off the user's console
"""
from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import logging
import os
import secrets
import socket
from typing import Iterator, Optional

from mmkg.kg.settings import GraphSettings

_LOG = logging.getLogger("mmkg.graph")

GRAPH_SUBDIR = "graph"
DATABASE = "mmkg"
USERNAME = "root"
HOST = "127.0.0.1"
BOLT_PLUGIN = "Bolt:com.arcadedb.bolt.BoltProtocolPlugin"
HEAP_ENV = "MMKG_GRAPH_HEAP"


class StoreBusyError(RuntimeError):
    """The store's files are held by another process (or another store object in this one)."""


class EmbeddedGraphStore:
    """Starts/stops the embedded ArcadeDB server over ``data_dir``; a context manager.

    ``settings`` (after start) is what the neo4j driver needs: a bolt:// URI on 127.0.0.1, the
    root user and the generated password, the database name.

    ``attach=True``: if another process already has the store open, connect to its Bolt server
    instead of failing (what `mmkg query` wants while a run is writing). Otherwise a busy store
    raises :class:`StoreBusyError` with the owner's pid.

    Stopping and starting the same object again reuses the previous port when it is free, so
    settings handed out before a restart keep working.
    """

    def __init__(
        self,
        data_dir: str,
        *,
        attach: bool = False,
        port: Optional[int] = None,
        heap_size: Optional[str] = None,
        database: str = DATABASE,
    ) -> None:
        self.data_dir = os.path.abspath(data_dir)
        self.root = os.path.join(self.data_dir, GRAPH_SUBDIR)
        self.attach = attach
        self.database = database
        self._port = port
        self._heap_size = heap_size or os.environ.get(HEAP_ENV, "1g")
        self._server = None
        self._lock_fd: Optional[int] = None
        self._settings: Optional[GraphSettings] = None
        self.attached = False

    def __repr__(self) -> str:
        return f"EmbeddedGraphStore({self.data_dir!r}, running={self.running})"

    @property
    def running(self) -> bool:
        return self._settings is not None

    @property
    def settings(self) -> GraphSettings:
        if self._settings is None:
            raise RuntimeError("the embedded graph store is not started")
        return self._settings

    def __enter__(self) -> "EmbeddedGraphStore":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> GraphSettings:
        if self._settings is not None:
            return self._settings
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        if not self._acquire_lock():
            return self._attach_or_fail()
        try:
            password = _load_or_create_password(self.root)
            _start_jvm(self.root, self._heap_size)
            _route_java_logging(os.path.join(self.root, "log"))
            self._server, port = self._start_server(password)
            if not os.path.isdir(os.path.join(self.root, "databases", self.database)):
                self._server.create_database(self.database)
            _write_private_json(
                os.path.join(self.root, "endpoint.json"),
                {"pid": os.getpid(), "port": port, "database": self.database},
            )
        except BaseException:
            self._stop_server()
            self._release_lock()
            raise
        self._port = port
        self._settings = GraphSettings(
            uri=f"bolt://{HOST}:{port}", username=USERNAME, password=password, database=self.database
        )
        atexit.register(self.stop)
        _LOG.info("embedded graph store open at %s (bolt://%s:%d)", self.root, HOST, port)
        return self._settings

    def stop(self) -> None:
        if self._settings is None:
            return
        self._settings = None
        if self.attached:
            self.attached = False
            return
        atexit.unregister(self.stop)
        try:
            self._stop_server()
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.root, "endpoint.json"))
            self._release_lock()
        _LOG.info("embedded graph store closed")

    # -- internals -------------------------------------------------------------------------

    def _acquire_lock(self) -> bool:
        fd = os.open(os.path.join(self.root, "store.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor drops the flock
            self._lock_fd = None

    def _attach_or_fail(self) -> GraphSettings:
        endpoint = _read_json(os.path.join(self.root, "endpoint.json")) or {}
        owner = endpoint.get("pid", "unknown")
        if not self.attach or "port" not in endpoint:
            raise StoreBusyError(
                f"the graph store in {self.root} is already open by process {owner}; wait for it "
                "to finish, or connect to its server with --neo4j-uri "
                f"bolt://{HOST}:{endpoint.get('port', '?')}"
            )
        creds = _read_json(os.path.join(self.root, "credentials.json")) or {}
        self._settings = GraphSettings(
            uri=f"bolt://{HOST}:{endpoint['port']}",
            username=creds.get("username", USERNAME),
            password=creds.get("password", ""),
            database=endpoint.get("database", self.database),
        )
        self.attached = True
        _LOG.info("graph store is open by process %s: using its server", owner)
        return self._settings

    def _start_server(self, password: str):
        import arcadedb_embedded
        from arcadedb_embedded.exceptions import ArcadeDBError

        candidates = ([self._port] if self._port else []) + [None, None, None]
        last_error: Optional[Exception] = None
        for wanted in candidates:
            port = wanted or _free_port()
            server = arcadedb_embedded.create_server(
                self.root,
                root_password=password,
                config={
                    "host": HOST,
                    "http_port": 0,  # the HTTP API is not used: an ephemeral loopback port
                    "server_plugins": BOLT_PLUGIN,
                    "bolt_port": port,
                    "bolt_host": HOST,
                    "server_logsDirectory": os.path.join(self.root, "log"),
                },
            )
            try:
                server.start()
            except ArcadeDBError as e:  # most often: the port was taken meanwhile
                last_error = e
                continue
            return server, port
        raise RuntimeError(f"could not start the embedded graph store in {self.root}: {last_error}")

    def _stop_server(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            _drop_bolt_connections(server._java_server)
            server.stop()


@contextlib.contextmanager
def graph_settings(
    data_dir: str, explicit: Optional[GraphSettings], attach: bool = False
) -> Iterator[GraphSettings]:
    """The explicit server's settings, or the embedded store's for as long as the block runs."""
    if explicit is not None:
        yield explicit
        return
    with EmbeddedGraphStore(data_dir, attach=attach) as store:
        yield store.settings


def _drop_bolt_connections(java_server) -> None:
    """Closes the Bolt plugin's open client connections before the server stops.

    ArcadeDB 26.10's Bolt plugin closes its listening socket on stop but leaves each client's
    connection thread running: those non-daemon threads keep the JVM (so the Python process)
    from exiting, and after a restart they answer a pooled driver connection with "credentials
    no longer valid", which the driver does not retry. With the sockets closed, a client sees a
    dropped connection instead, which execute_write retries against the restarted server.
    """
    try:
        for plugin in java_server.getPlugins():
            if "BoltProtocolPlugin" not in str(plugin.getClass().getName()):
                continue
            listener = _private_field(plugin, "listener")
            executors = list(_private_field(listener, "activeConnections")) if listener else []
            for executor in executors:
                _private_field(executor, "socket").close()
            for executor in executors:
                executor.join(2000)
    except Exception:  # reflection into a private field: a newer engine may not need it
        _LOG.debug("could not close open Bolt connections", exc_info=True)


def _private_field(obj, name: str):
    field = obj.getClass().getDeclaredField(name)
    field.setAccessible(True)
    return field.get(obj)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _read_json(path: str) -> Optional[dict]:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (FileNotFoundError, ValueError):
        return None


def _write_private_json(path: str, data: dict) -> None:
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f)
    os.chmod(tmp, 0o600)  # O_CREAT's mode does not apply to a file left over from a crash
    os.replace(tmp, path)


def _load_or_create_password(root: str) -> str:
    path = os.path.join(root, "credentials.json")
    creds = _read_json(path)
    if creds and creds.get("password"):
        return creds["password"]
    if os.path.exists(os.path.join(root, "config", "server-users.jsonl")):
        # ArcadeDB only takes the root password at its first start; it keeps a hash after that.
        raise RuntimeError(
            f"{path} is missing but the store in {root} already has a root user: restore the file, "
            "or delete config/server-users.jsonl there to set a new password"
        )
    password = secrets.token_urlsafe(24)
    _write_private_json(path, {"username": USERNAME, "password": password})
    return password


def _start_jvm(root: str, heap_size: str) -> None:
    """Starts the JVM once per process, with its start-up chatter sent to a log file."""
    import jpype

    if jpype.isJVMStarted():
        return
    from arcadedb_embedded.jvm import start_jvm

    log_dir = os.path.join(root, "log")
    os.makedirs(log_dir, exist_ok=True)
    # The JVM reads these at start: crash reports go to the store's log, not ./log.
    os.environ.setdefault("ARCADEDB_JVM_ERROR_FILE", os.path.join(log_dir, "hs_err_pid%p.log"))
    console = os.open(os.path.join(log_dir, "jvm-console.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    saved = os.dup(2)
    try:
        # The JVM prints "WARNING: Using incubator modules" on fd 2 while it starts; nothing the
        # user can act on.
        os.dup2(console, 2)
        start_jvm(
            heap_size=heap_size,
            jvm_args=[
                f"-Djava.util.logging.config.file={_log_config(log_dir)}",
                # JPype asks Java for a GC when Python collects, which the driver's allocations
                # make frequent: a concurrent cycle instead of a stop-the-world full GC each time.
                "-XX:+ExplicitGCInvokesConcurrent",
            ],
        )
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(console)


def _log_config(log_dir: str) -> str:
    """A java.util.logging config that writes ArcadeDB's log to ``log_dir`` and nothing to the console."""
    os.makedirs(log_dir, exist_ok=True)
    pattern = os.path.join(log_dir, "arcadedb.log").replace("%", "%%")
    text = "\n".join(
        [
            "handlers = java.util.logging.FileHandler",
            ".level = INFO",
            "io.undertow.level = WARNING",
            "org.xnio.level = WARNING",
            "org.jboss.level = WARNING",
            "java.util.logging.FileHandler.level = INFO",
            f"java.util.logging.FileHandler.pattern = {pattern}",
            "java.util.logging.FileHandler.formatter = com.arcadedb.log.LogFormatter",
            "java.util.logging.FileHandler.limit = 10000000",
            "java.util.logging.FileHandler.count = 3",
            "",
        ]
    )
    path = os.path.join(log_dir, "logging.properties")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def _route_java_logging(log_dir: str) -> None:
    """Points java.util.logging at this store's log dir (also when the JVM was already running)."""
    import jpype

    path = _log_config(log_dir)
    jpype.JClass("java.lang.System").setProperty("java.util.logging.config.file", path)
    stream = jpype.JClass("java.io.FileInputStream")(path)
    try:
        jpype.JClass("java.util.logging.LogManager").getLogManager().readConfiguration(stream)
    finally:
        stream.close()
