"""The ``mmkg`` command: one sub-command per job, each a thin main in this folder (cli/NAME.py)
that parses its flags into typed settings and hands them to the code that does the work."""
from __future__ import annotations

import importlib
import logging
import os
import sys
from typing import List, Optional

from mmkg.cli.logs import hide_beam_import_warning, quiet_model_libraries, root_handler, stay_offline

# sub-command -> (module with main(argv), one-line help). Imported lazily: `mmkg query` should not
# pay for torch, and `mmkg train` not for Beam's runners.
COMMANDS = {
    "run": ("mmkg.cli.run", "run the pipeline over posts and build the knowledge graph"),
    "train": ("mmkg.cli.train", "train the guide model (stage 1)"),
    "evaluate": ("mmkg.cli.evaluate", "evaluate the guide (and the LLM refiner) on an MNRE split"),
    "train-ner": ("mmkg.cli.train_ner", "train the NER student on CoNLL files (Twitter-2015/2017)"),
    "evaluate-ner": ("mmkg.cli.evaluate_ner", "evaluate the NER student on a CoNLL split"),
    "calibrate": ("mmkg.cli.calibrate", "choose the LLM gating thresholds on a validation split"),
    "query": ("mmkg.cli.query", "query the knowledge graph"),
    "audit": ("mmkg.cli.audit", "sample a run's triples for a person to judge, then score precision"),
    "resolve": ("mmkg.cli.resolve", "undo a merge entity resolution made (the names stay apart from now on)"),
}


def usage() -> str:
    lines = ["usage: mmkg COMMAND [options]", "", "commands:"]
    lines += [f"  {name:<12} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "`mmkg COMMAND --help` shows a command's options."]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"mmkg: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    hide_beam_import_warning()
    root_handler()
    stay_offline()
    quiet_model_libraries()
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(rest) or 0)


# Commands whose process ends as soon as they return: everything is written and every server
# they started is stopped by then, and the interpreter's own teardown of torch, Beam and their
# threads took 1.8-2.0 s of a 1-post `mmkg run` here (docs/throughput.md).
EXIT_AT_ONCE = ("run",)


def entry(argv: Optional[List[str]] = None) -> None:
    """The ``mmkg`` script and ``python -m mmkg``: :func:`main`, then the process's exit."""
    argv = list(sys.argv[1:] if argv is None else argv)
    code = main(argv)
    if argv and argv[0] in EXIT_AT_ONCE:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()
