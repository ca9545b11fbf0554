"""pandas <-> Arrow conversion for the pandas engine.

Frames the pandas engine produces use pyarrow-backed dtypes (``pd.ArrowDtype``): integers keep
their type when they hold nulls, and decimals, dates and time zones survive a round trip. Frames
users build themselves (numpy dtypes, objects) are accepted everywhere.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from odibi_core.errors import DataError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["from_arrow", "normalized", "to_arrow"]

_INDEX_COLUMN = re.compile(r"^__index_level_\d+__$")


def to_arrow(frame: pd.DataFrame) -> pa.Table:
    """``frame`` as an Arrow table; a named index becomes columns, an unnamed one is dropped.

    Raises:
        DataError: a column cannot be represented in Arrow (mixed Python types, duplicates).
    """
    import pyarrow as pa

    frame = normalized(frame)
    duplicated = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
    if duplicated:
        raise DataError(f"The frame has duplicate column names: {', '.join(duplicated)}.",
                        fix="Rename or drop the duplicates (rename_columns / select_columns).")
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise DataError(f"The frame cannot be converted to Arrow: {exc}",
                        fix="Make each column hold one type (cast_columns, or astype in the "
                            "transform function).") from exc
    return table.replace_schema_metadata(None)


def from_arrow(table: pa.Table) -> pd.DataFrame:
    """An Arrow table as a pandas frame with pyarrow-backed dtypes and a RangeIndex."""
    import pandas as pd

    # Files written by pandas may carry their index as `__index_level_N__`: not data.
    keep = [n for n in table.column_names if not _INDEX_COLUMN.match(n)]
    if len(keep) != table.num_columns:
        table = table.select(keep)
    frame = table.replace_schema_metadata(None).to_pandas(types_mapper=pd.ArrowDtype)
    return frame.reset_index(drop=True)


def normalized(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a named index turned into columns, a RangeIndex and string column names
    (the frame itself when it already is so)."""
    import pandas as pd

    if any(name is not None for name in frame.index.names):
        frame = frame.reset_index()
    elif not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index(drop=True)
    if not all(isinstance(c, str) for c in frame.columns):
        frame = frame.rename(columns=str)
    return frame
