"""The project installs as one namespace, ``mmkg``: the folders' generic names (``guide``,
``runtime``, ...) must not be importable, since other packages use them too."""
import os
import pathlib
import re
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
FOLDERS = ("schemas", "runtime", "ner", "guide", "refiner", "resolve", "kg", "transforms", "pipeline", "runners", "cli")


def _python(code: str, cwd) -> subprocess.CompletedProcess:
    # Another folder and no PYTHONPATH: only what pip installed is importable.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True)


def test_the_namespace_imports_from_another_folder(tmp_path):
    done = _python("import mmkg.pipeline, mmkg.transforms, mmkg.schemas, mmkg.runners, mmkg.kg, "
                   "mmkg.runtime, mmkg.ner, mmkg.guide, mmkg.refiner, mmkg.cli; print(mmkg.guide.__name__)", tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "mmkg.guide"


@pytest.mark.parametrize("name", FOLDERS)
def test_generic_names_are_not_importable(name, tmp_path):
    done = _python(f"import {name}", tmp_path)
    assert done.returncode != 0 and f"No module named '{name}'" in done.stderr


def test_python_dash_m_mmkg_and_the_console_script(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    by_module = subprocess.run([sys.executable, "-m", "mmkg", "--help"], cwd=tmp_path, env=env,
                               capture_output=True, text=True)
    script = pathlib.Path(sys.executable).parent / "mmkg"
    by_script = subprocess.run([str(script), "--help"], cwd=tmp_path, env=env, capture_output=True, text=True)
    for done in (by_module, by_script):
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("usage: mmkg COMMAND") and "  run " in done.stdout


def test_every_logger_is_named_under_mmkg():
    # __name__ is "mmkg.<folder>.<module>" once installed; any other literal name escapes the
    # level `mmkg run` sets on the "mmkg" logger. getLogger() (the root) only carries a filter.
    call = re.compile(r"getLogger\(([^)]*)\)")
    found = []
    for folder in FOLDERS:
        for path in (REPO / folder).rglob("*.py"):
            for arg in call.findall(path.read_text(encoding="utf-8")):
                found.append(arg)
                assert arg in ("", "__name__") or re.fullmatch(r"\"mmkg(\.[a-z_]+)*\"", arg), (path, arg)
    assert found
