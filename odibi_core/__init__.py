"""odibi_core: declarative data pipelines, framework-free.

Importing this package loads no engine library (pandas, polars, pyspark) and no Dagster.
"""

from odibi_core.error_taxonomy import is_transient
from odibi_core.errors import ConfigError, DataError, OdibiError, TransientError
from odibi_core.transforms.registry import transform

__all__ = ["ConfigError", "DataError", "OdibiError", "TransientError", "is_transient", "transform"]
