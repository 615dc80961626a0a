"""Where the graph lives and how to log in (built from flags and NEO4J_* variables by pipeline.options).

The settings object travels to Beam workers (it is pickled with the writing DoFn). A password
read from this process's environment (``NEO4J_PASSWORD``) is left out of the pickle, so it never
sits in a job graph that a runner stages or shows; the worker reads it from its own environment,
as the LLM key is. Only the embedded store's generated password (local runs only) travels with
the settings. The repr never shows a password, so neither a log line nor a traceback can leak it.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Optional

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


def _unpickle(fields: dict) -> GraphSettings:
    if "password" not in fields:
        fields = dict(fields, password=os.environ.get(fields["password_env"], ""))
    return GraphSettings(**fields)
