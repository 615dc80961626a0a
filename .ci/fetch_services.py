#!/usr/bin/env python3
"""Fetches and builds the real servers the tests run against, once, into a cache.

    python3 .ci/fetch_services.py [--python .venv/bin/python]

Into ``MMKG_SERVICES_DIR`` (default ``~/.cache/mmkg``), kept between CI runs:

- ``neo4j``: neo4j-harness (Neo4j 5.26 LTS) and its dependency tree from Maven Central, with the
  small main of services/neo4j compiled against it (``mvn package``; Maven's own cache is
  ``m2/`` in the same folder);
- ``flink``: PyPI's ``apache-flink`` and ``apache-flink-libraries`` wheels, unzipped (not
  installed: they pin apache-beam<=2.61), whose ``pyflink/`` folder is a Flink distribution;
- ``flink_job_server``: Beam's Flink job-server jar
  ``org.apache.beam:beam-runners-flink-<flink minor>-job-server:<the venv's apache-beam version>``
  from Maven Central.

Writes ``services.json`` there: for each, either where it is or the exact refusal (artifact,
version, error). The tests read it and skip, with that reason, what is absent. This script itself
fails (exit 1) only when a registry cannot be reached at all, with a message saying which; an
artifact the registry does not serve is recorded, not fatal. Nothing here runs at product run time.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile

REPO = pathlib.Path(__file__).resolve().parent.parent
CACHE = pathlib.Path(os.environ.get("MMKG_SERVICES_DIR", pathlib.Path.home() / ".cache" / "mmkg"))
M2 = CACHE / "m2"
MAVEN_CENTRAL = "https://repo.maven.apache.org/maven2/"
PYPI = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple/")

FLINK_VERSION = "2.2.0"  # the newest Flink that Beam's FlinkRunner supports (PUBLISHED_FLINK_VERSIONS)
NEO4J_PROJECT = REPO / "services" / "neo4j"


def log(msg: str) -> None:
    print(f"[fetch_services] {msg}", flush=True)


def reachable(url: str) -> str | None:
    """None when ``url`` answers (any HTTP status); else why not."""
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=20).close()
        return None
    except urllib.error.HTTPError:
        return None  # it answered
    except (urllib.error.URLError, OSError) as e:
        return str(getattr(e, "reason", e))


def run(cmd: list, **kw) -> subprocess.CompletedProcess:
    log("$ " + " ".join(str(c) for c in cmd))
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)


def mvn_error(out: str) -> str:
    """The first [ERROR] line of a Maven run (Maven's own summary of the failure)."""
    lines = [l for l in out.splitlines() if l.startswith("[ERROR]") and l.strip() != "[ERROR]"]
    return lines[0][len("[ERROR] "):] if lines else out.strip()[-500:]


def fetch_neo4j() -> dict:
    if shutil.which("java") is None or shutil.which("mvn") is None:
        return {"ok": False, "error": "java or mvn is not on PATH"}
    sources = sorted(p for p in NEO4J_PROJECT.rglob("*") if p.is_file() and "target" not in p.parts)
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()[:12]
    build = CACHE / f"neo4j-test-server-{digest}"
    cp_file = build / "classpath.txt"
    if not cp_file.exists():
        proc = run(["mvn", "-B", "-q", f"-Dmaven.repo.local={M2}", f"-Dmmkg.build.dir={build}",
                    "-f", NEO4J_PROJECT / "pom.xml", "package"], timeout=1800)
        if proc.returncode != 0 or not cp_file.exists():
            return {"ok": False, "error": f"mvn package of services/neo4j (neo4j-harness): {mvn_error(proc.stdout + proc.stderr)}"}
    version = next((l.split(">")[1].split("<")[0] for l in (NEO4J_PROJECT / "pom.xml").read_text().splitlines()
                    if "<neo4j.version>" in l), "?")
    classpath = f"{build / 'classes'}:{cp_file.read_text().strip()}"
    return {"ok": True, "version": version, "classpath": classpath, "path": str(build)}


def fetch_flink(python: str) -> dict:
    home = CACHE / f"flink-{FLINK_VERSION}" / "pyflink"
    if not any(home.glob("lib/flink-dist*.jar")):
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            proc = run([python, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "-d", tmp,
                        f"apache-flink=={FLINK_VERSION}", f"apache-flink-libraries=={FLINK_VERSION}"], timeout=1800)
            if proc.returncode != 0:
                return {"ok": False, "error": f"pip download apache-flink=={FLINK_VERSION} apache-flink-libraries=="
                                              f"{FLINK_VERSION}: {(proc.stderr or proc.stdout).strip()[-600:]}"}
            target = home.parent
            shutil.rmtree(target, ignore_errors=True)
            for wheel in sorted(pathlib.Path(tmp).glob("*.whl")):
                with zipfile.ZipFile(wheel) as z:
                    z.extractall(target)
        for script in home.glob("bin/*"):
            script.chmod(0o755)
    if not any(home.glob("lib/flink-dist*.jar")):
        return {"ok": False, "error": f"no lib/flink-dist-*.jar under {home} after unzipping the wheels"}
    return {"ok": True, "version": FLINK_VERSION, "home": str(home)}


def beam_version(python: str) -> str | None:
    proc = subprocess.run([python, "-c", "import apache_beam; print(apache_beam.__version__)"],
                          capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


def fetch_job_server(python: str) -> dict:
    version = beam_version(python)
    if version is None:
        return {"ok": False, "error": f"apache_beam is not importable with {python}"}
    minor = ".".join(FLINK_VERSION.split(".")[:2])
    artifact = f"org.apache.beam:beam-runners-flink-{minor}-job-server:{version}"
    jar = CACHE / "beam" / f"beam-runners-flink-{minor}-job-server-{version}.jar"
    if not jar.exists():
        if shutil.which("mvn") is None:
            return {"ok": False, "artifact": artifact, "error": "mvn is not on PATH"}
        # -U: a refusal cached by an earlier run is asked again (the day it is served, it works).
        proc = run(["mvn", "-B", "-U", f"-Dmaven.repo.local={M2}",
                    "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy", f"-Dartifact={artifact}",
                    f"-DoutputDirectory={jar.parent}", "-Dmdep.overWriteReleases=false"], timeout=1800, cwd=CACHE)
        if proc.returncode != 0 or not jar.exists():
            return {"ok": False, "artifact": artifact,
                    "error": f"Maven Central does not serve {artifact}: {mvn_error(proc.stdout + proc.stderr)}"}
    return {"ok": True, "artifact": artifact, "jar": str(jar), "beam_version": version, "flink_version": FLINK_VERSION}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--python", default=str(REPO / ".venv" / "bin" / "python"),
                    help="the project's Python (its apache-beam version picks the job-server jar)")
    args = ap.parse_args(argv)
    CACHE.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    down = {name: why for name, url in (("Maven Central", MAVEN_CENTRAL), ("PyPI", PYPI)) if (why := reachable(url))}
    for name, why in down.items():
        log(f"ERROR: {name} is unreachable from here ({why}): the Neo4j and Flink tests will be skipped "
            f"unless {CACHE} already holds what they need")
    result = {
        "neo4j": fetch_neo4j(),
        "flink": fetch_flink(args.python),
        "flink_job_server": fetch_job_server(args.python),
    }
    (CACHE / "services.json").write_text(json.dumps(result, indent=2) + "\n")
    for name, entry in result.items():
        if entry["ok"]:
            where = entry.get("home") or entry.get("jar") or entry.get("path")
            log(f"{name}: ok ({entry.get('version') or entry.get('artifact')}) at {where}")
        else:
            log(f"{name}: NOT AVAILABLE: {entry['error']}")
    log(f"done in {time.monotonic() - started:.0f} s; manifest {CACHE / 'services.json'}")
    return 1 if down and not all(e["ok"] for e in result.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
