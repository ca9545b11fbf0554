"""Custom transforms for the retail example, registered by name for `function:` steps."""

from odibi_core import transform


@transform
def add_tax(df, rate: float = 0.2, column: str = "amount", engine=None):
    """Add `<column>_with_tax`: the amount with a flat sales tax, rounded to cents.

    Asking for `engine` makes the function run on every engine (pandas, polars, spark): the
    engine adds the column from a SQL expression. A pandas-only project could simply write
    `df.assign(...)`.
    """
    return engine.add_columns(df, {f"{column}_with_tax": f'round("{column}" * {1 + rate}, 2)'})
