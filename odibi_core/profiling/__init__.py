"""Data profiling of node outputs (SPEC §10, ``profiling`` block of the project file).

When ``profiling.enabled``, every node's output is profiled after validation and before the
write: per column the null percentage, the unique count (exact up to
:data:`EXACT_UNIQUE_LIMIT` rows profiled, approximate beyond and marked so), min/max, and
equal-width histograms of numeric, date and timestamp columns. The result is a
:class:`Profile` whose JSON form is ``NodeResult.extra["profile"]``; :func:`profile_of` reads it
back (for asset checks), :func:`profile_markdown` / :func:`profile_html` render it.
"""

from odibi_core.profiling.compute import BINS, EXACT_UNIQUE_LIMIT, METRICS
from odibi_core.profiling.model import ColumnProfile, Histogram, Profile
from odibi_core.profiling.profiler import profile_frame, profile_of, profile_output
from odibi_core.profiling.render import profile_html, profile_markdown

__all__ = ["BINS", "EXACT_UNIQUE_LIMIT", "METRICS", "ColumnProfile", "Histogram", "Profile",
           "profile_frame", "profile_html", "profile_markdown", "profile_of", "profile_output"]
