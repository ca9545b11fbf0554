"""What each engine can do, as data: the one place outside ``odibi_core/engines`` that knows
engines by name. Config checks, the Dagster translation and the CLI ask for a capability, not
for an engine name, so a new engine is a new row here plus its module in ``engines/``.

Importing this module imports no engine library.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CAPABILITIES", "EngineCapabilities", "capabilities_of"]


@dataclass(frozen=True)
class EngineCapabilities:
    """One engine's capabilities."""

    name: str
    streaming: bool = False  # read.streaming: Structured Streaming queries
    azure_storage: bool = True  # reads and writes on azure_blob / azure_adls connections
    # One session per process (a JVM): a run's steps share the process and its session, which
    # Dagster gets as a resource; a step process of its own would start a session each.
    needs_session: bool = False
    time_travel: bool = True  # read.time_travel on Delta
    views: bool = True  # materialized: view

    @property
    def runs_in_one_process(self) -> bool:
        """A run executes every step in one process (the multiprocess executor is refused)."""
        return self.needs_session


CAPABILITIES: dict[str, EngineCapabilities] = {
    "pandas": EngineCapabilities("pandas"),
    "polars": EngineCapabilities("polars"),
    # hadoop-azure is not set up for the Spark session yet: Azure paths are refused at load.
    "spark": EngineCapabilities("spark", streaming=True, azure_storage=False, needs_session=True),
}


def capabilities_of(engine: str) -> EngineCapabilities:
    """The capabilities of ``engine`` (a name the project file accepts)."""
    try:
        return CAPABILITIES[engine]
    except KeyError:
        raise ValueError(f"Unknown engine {engine!r}; known: {', '.join(CAPABILITIES)}.") \
            from None
