"""The dead-letter queue of file reads (SPEC §4 ``read.dead_letter``).

With ``read.dead_letter``, records that cannot be read (malformed CSV rows, invalid JSON lines,
undecodable bytes, values that do not fit ``read.options.schema``) are written to the
destination with their file, line, raw text and error; the valid records go on. Without it, the
first such record fails the read, naming the file and the line.

- :func:`read_with_dead_letter_queue`: a node's read with its dead-letter queue.
- :func:`list_dead_letters` / :func:`replay_dead_letters`: ``odibi dlq show`` / ``replay``.
- :class:`DeadLetterStore`: the destination (Delta by default).

Importing this package loads no engine library.
"""

from odibi_core.dead_letters.model import (
    DeadLetter,
    DeadLetterBatch,
    SourceFile,
    build_batch_id,
    relative_source,
)
from odibi_core.dead_letters.queue import (
    check_bad_fraction,
    read_with_dead_letter_queue,
    summarize_batch,
)
from odibi_core.dead_letters.replay import ReplayResult, load_corrections, replay_dead_letters
from odibi_core.dead_letters.store import (
    DEAD_LETTER_COLUMNS,
    BatchSummary,
    DeadLetterListing,
    DeadLetterStore,
    dead_letter_schema,
    list_dead_letters,
)

__all__ = [
    "DEAD_LETTER_COLUMNS",
    "BatchSummary",
    "DeadLetter",
    "DeadLetterBatch",
    "DeadLetterListing",
    "DeadLetterStore",
    "ReplayResult",
    "SourceFile",
    "build_batch_id",
    "check_bad_fraction",
    "dead_letter_schema",
    "list_dead_letters",
    "load_corrections",
    "read_with_dead_letter_queue",
    "relative_source",
    "replay_dead_letters",
    "summarize_batch",
]
