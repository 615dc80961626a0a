"""Where the graph lives and how to log in: from flags, else from NEO4J_* environment variables.

The settings object travels to Beam workers (it is pickled with the writing DoFn). A password
read from this process's environment (``NEO4J_PASSWORD``) is left out of the pickle, so it never
sits in a job graph that a runner stages or shows; the worker reads it from its own environment,
as the LLM key is. Only the embedded store's generated password (local runs only) travels with
the settings. The repr never shows a password, so neither a log line nor a traceback can leak it.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
from dataclasses import dataclass
from typing import Any, Mapping, Optional

ENV_URI = "NEO4J_URI"
ENV_USERNAME = "NEO4J_USERNAME"
ENV_PASSWORD = "NEO4J_PASSWORD"
ENV_DATABASE = "NEO4J_DATABASE"
DEFAULT_USERNAME = "neo4j"


@dataclass(frozen=True)
class GraphSettings:
    """A Bolt endpoint and its credentials. ``database`` None means the server's default."""

    uri: str
    username: str = DEFAULT_USERNAME
    password: str = dataclasses.field(default="", repr=False)
    database: Optional[str] = None
    # How long the driver keeps retrying a transaction that failed with a transient error.
    max_retry_time: float = 30.0
    connection_timeout: float = 15.0
    # Set when the password came from this environment variable: pickles then leave it out.
    password_env: Optional[str] = None

    def __repr__(self) -> str:
        return (
            f"GraphSettings(uri={self.uri!r}, username={self.username!r}, password='***', "
            f"database={self.database!r})"
        )

    __str__ = __repr__

    def __reduce__(self):
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        if self.password_env:
            del fields["password"]  # the unpickling process reads it from its own environment
        return _unpickle, (fields,)

    def driver(self):
        """A new driver for these settings; the caller closes it."""
        import neo4j  # late: `mmkg --help` should not pay for the driver

        return neo4j.GraphDatabase.driver(
            self.uri,
            auth=(self.username, self.password),
            max_transaction_retry_time=self.max_retry_time,
            connection_timeout=self.connection_timeout,
        )

    def session_kwargs(self) -> dict:
        return {"database": self.database} if self.database else {}


def settings_from_values(
    uri: Optional[str],
    username: Optional[str] = None,
    database: Optional[str] = None,
    env: Optional[Mapping[str, str]] = None,
) -> Optional[GraphSettings]:
    """Settings for an explicit server, flags first, then the environment.

    Returns None when no URI is configured anywhere: the caller then uses the embedded store.
    The password is only ever read from the environment (a flag would show it in `ps`).
    """
    env = os.environ if env is None else env
    uri = uri or env.get(ENV_URI)
    if not uri:
        return None
    return GraphSettings(
        uri=uri,
        username=username or env.get(ENV_USERNAME) or DEFAULT_USERNAME,
        password=env.get(ENV_PASSWORD, ""),
        database=database or env.get(ENV_DATABASE) or None,
        password_env=ENV_PASSWORD if env is os.environ else None,
    )


def _unpickle(fields: dict) -> GraphSettings:
    if "password" not in fields:
        fields = dict(fields, password=os.environ.get(fields["password_env"], ""))
    return GraphSettings(**fields)


def settings_from_options(opts: Any, env: Optional[Mapping[str, str]] = None) -> Optional[GraphSettings]:
    """Settings from :class:`pipeline.options.MmkgOptions` (or any object with the same names)."""
    return settings_from_values(
        getattr(opts, "neo4j_uri", None),
        getattr(opts, "neo4j_username", None),
        getattr(opts, "neo4j_database", None),
        env,
    )


def add_connection_flags(parser: argparse.ArgumentParser) -> None:
    """The graph flags of `mmkg run`, for commands that only talk to the graph."""
    parser.add_argument(
        "--data-dir",
        dest="data_dir",
        default="./mmkg-data",
        help="where the embedded graph store lives (used when no Neo4j URI is given)",
    )
    parser.add_argument(
        "--neo4j-uri", dest="neo4j_uri", default=None, help=f"bolt:// or neo4j:// URI; {ENV_URI}"
    )
    parser.add_argument(
        "--neo4j-username", dest="neo4j_username", default=None, help=f"{ENV_USERNAME}; default neo4j"
    )
    parser.add_argument(
        "--neo4j-database", dest="neo4j_database", default=None, help=f"{ENV_DATABASE}"
    )
