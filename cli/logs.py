"""What a command sets up before it does anything: the process's logging, model libraries that
stay quiet, and no download at run time. Set in the environment, so that Beam's worker processes
inherit it."""
from __future__ import annotations

import logging
import os
import warnings

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


def root_handler() -> None:
    """The process's one log handler, in our format. Set before any command imports Beam: Beam's
    import warns through the root logger, which would otherwise install Python's default handler
    (``INFO:name:msg``) first."""
    logging.basicConfig(level=logging.WARNING, format=LOG_FORMAT)


def configure_logging() -> None:
    quiet_model_libraries()
    root_handler()
    # Our own loggers (all named under "mmkg.") talk at INFO; Beam's and the servers' only when
    # something is wrong.
    logging.getLogger("mmkg").setLevel(logging.INFO)


def hide_beam_import_warning() -> None:
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
