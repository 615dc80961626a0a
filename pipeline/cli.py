"""The ``mmkg`` command: one sub-command per job, each owned by the module that does the work."""
from __future__ import annotations

import importlib
import logging
import os
import sys
import warnings
from typing import List, Optional

# sub-command -> (module with main(argv), one-line help). Imported lazily: `mmkg query` should not
# pay for torch, and `mmkg train` not for Beam's runners.
COMMANDS = {
    "run": ("mmkg.pipeline.run", "run the pipeline over posts and build the knowledge graph"),
    "train": ("mmkg.models.train", "train the guide model (stage 1)"),
    "evaluate": ("mmkg.pipeline.evaluate", "evaluate the guide (and the LLM refiner) on an MNRE split"),
    "train-ner": ("mmkg.models.ner_train", "train the NER student on CoNLL files (Twitter-2015/2017)"),
    "evaluate-ner": ("mmkg.models.ner_evaluate", "evaluate the NER student on a CoNLL split"),
    "calibrate": ("mmkg.pipeline.calibrate", "choose the LLM gating thresholds on a validation split"),
    "query": ("mmkg.pipeline.query", "query the knowledge graph"),
}


def usage() -> str:
    lines = ["usage: mmkg COMMAND [options]", "", "commands:"]
    lines += [f"  {name:<12} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "`mmkg COMMAND --help` shows a command's options."]
    return "\n".join(lines)


def _hide_beam_import_warning() -> None:
    """Beam warns on import that the optional GCP client libraries are absent; that is expected
    for local runs (Dataflow users install the [gcp] extra) and only confuses a first-time user."""
    logging.getLogger().addFilter(lambda record: "apitools not found" not in record.getMessage())


def quiet_model_libraries() -> None:
    """Loading the encoder otherwise prints a load report (the unused pooler of a
    sentence-transformers checkpoint), progress bars and a tokenizers fork warning, once per
    process. Set in the environment, before transformers is imported, so that Beam's worker
    processes inherit it."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # Deprecation notices from inside transformers/peft: nothing a user can act on.
    warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")


def stay_offline() -> None:
    """Nothing downloads at run time: the encoders come from installed packages or local paths.
    Set here, at the command's entry, for this process and the workers it starts; importing a
    module of mmkg changes no environment."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"mmkg: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    _hide_beam_import_warning()
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
