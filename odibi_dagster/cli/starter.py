"""``odibi init NAME``: a small project that runs as created."""

from __future__ import annotations

from pathlib import Path

from odibi_core.errors import ConfigError, ConfigProblem

__all__ = ["write_starter"]

_PROJECT = """\
# A starter odibi project. Run it with `odibi run {name}`; see the graph with `odibi graph {name}`.
project: {project}
engine: pandas

connections:
  raw:  {{type: local, base_path: ./data}}
  lake: {{type: local, base_path: ./lake}}

story:  {{connection: lake, path: _stories}}
system: {{connection: lake, path: _odibi_system}}

pipelines:
  - pipeline: starter
    description: Raw CSV to a Delta table, then a small report.
    nodes:
      - name: raw_sales
        tags: [ingest]
        read:  {{connection: raw, format: csv, path: sales.csv}}
        write: {{connection: lake, format: delta, path: bronze/sales}}

      - name: sales_by_region
        tags: [report]
        depends_on: [raw_sales]
        transformer: aggregate
        params:
          group_by: [region]
          aggregations: {{orders: count(*), revenue: sum(amount)}}
        transform:
          steps:
            - function: add_share
        write: {{connection: lake, format: parquet, path: gold/sales_by_region.parquet}}
"""

_TRANSFORMS = '''\
"""Your own transforms: decorate a function with @transform and use it as `function: NAME`."""

from odibi_core import transform


@transform
def add_share(df, column: str = "revenue"):
    """Add `share`: each row's part of the column's total."""
    return df.assign(share=(df[column] / df[column].sum()).round(4))
'''

_DATA = """\
order_id,region,amount
1,north,120.0
2,south,80.5
3,north,42.0
4,east,300.0
5,south,19.5
"""


def write_starter(target: Path) -> None:
    """Create ``target`` with an odibi.yaml, a transforms.py and sample data; never overwrite."""
    if target.exists() and any(target.iterdir()):
        raise ConfigError(ConfigProblem(
            message=f"{target} already exists and is not empty.",
            fix="Choose a new folder name for `odibi init`.",
        ))
    project = "".join(c if c.isalnum() or c == "_" else "_" for c in target.name) or "project"
    (target / "data").mkdir(parents=True, exist_ok=True)
    (target / "odibi.yaml").write_text(_PROJECT.format(name=target, project=project),
                                       encoding="utf-8")
    (target / "transforms.py").write_text(_TRANSFORMS, encoding="utf-8")
    (target / "data" / "sales.csv").write_text(_DATA, encoding="utf-8")
    (target / ".gitignore").write_text("lake/\n.odibi/\n", encoding="utf-8")
