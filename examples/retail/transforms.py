"""Custom transforms for the retail example, registered by name for `function:` steps."""

from odibi_core import transform


@transform
def add_tax(df, rate: float = 0.2, column: str = "amount"):
    """Add `<column>_with_tax`: the amount with a flat sales tax, rounded to cents."""
    return df.assign(**{f"{column}_with_tax": (df[column] * (1 + rate)).round(2)})
