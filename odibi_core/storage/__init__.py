"""The storage vocabulary every layer speaks: where data lives and what to do with it.

- :mod:`~odibi_core.storage.locations`: :class:`ResolvedLocation`, a path on a connection
  resolved to what an engine opens;
- :mod:`~odibi_core.storage.redaction`: which storage options are credentials, and masking them;
- :mod:`~odibi_core.storage.requests`: the read and write requests (and batch markers, change
  feed reads) a connection's location travels in to an engine, and the ``Frame`` alias;
- :mod:`~odibi_core.storage.logical_types`: the logical column type names and their Arrow and
  DuckDB spellings.

Connections build locations, configuration checks types, engines carry out requests: all three
import from here, and nothing here imports an engine, a connection or a config model.
"""
