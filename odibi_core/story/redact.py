"""Masking a story before it is written: secrets, ``privacy`` columns and secret-looking columns.

What the node lifecycle already protects: sample rows are taken from the output, after ``privacy``
ran, so private columns show their hashed / masked / redacted values; locations never hold
credentials. What is left for the story to mask:

- contracts run on the *input*, before ``privacy``: the failing values a contract test samples
  (and the error message quoting them) are raw, so those of ``privacy`` columns become ``***``;
- any value of a column whose *name* says it is a credential (``password``, ``api_key``, ...);
- every known secret value (connection credentials, secret environment variables), wherever it
  appears as text: an error message, SQL, a sample value, an ``extra`` entry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from odibi_core.secret_text import MASK, mask_secrets
from odibi_core.story.model import RunStory

__all__ = ["MASK", "NodePrivacy", "is_secret_column", "redact_story"]

MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary text
_SECRET_COLUMN = re.compile(
    r"(?:^|[_\W])(?:password|passwd|pwd|secret|token|api_?key|access_?key|account_?key"
    r"|private_?key|credentials?|connection_?string)(?:$|[_\W])",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class NodePrivacy:
    """A node's ``privacy`` columns, and the columns each of its contract tests samples.

    ``contract_columns`` maps a test's index in ``contracts`` to the columns its failing values
    come from; a test missing from it (``custom_sql``, ...) counts as touching every column.
    """

    columns: frozenset[str]
    contract_columns: Mapping[int, tuple[str, ...]] = field(default_factory=dict)

    def touches(self, index: int) -> bool:
        columns = self.contract_columns.get(index)
        return columns is None or not self.columns.isdisjoint(columns)


def is_secret_column(name: str) -> bool:
    """True for a column named like a credential (``password``, ``api_key``, ``client_secret``)."""
    return bool(_SECRET_COLUMN.search(name))


def redact_story(story: RunStory, *, secrets: Iterable[str] = (),
                 privacy: Mapping[str, NodePrivacy] | None = None) -> RunStory:
    """``story`` with secrets and private values replaced by ``***`` (see the module docstring).

    Args:
        secrets: values that must never appear; those shorter than 4 characters are ignored.
        privacy: by node name, the nodes that have a ``privacy`` block.
    """
    data = story.to_dict()
    for node in data["nodes"]:
        rule = (privacy or {}).get(node["node"])
        if rule is not None:
            _mask_contract_samples(node, rule)
        node["sample_rows"] = [_mask_secret_columns(row) for row in node.get("sample_rows") or ()]
    values = [s for s in secrets if isinstance(s, str) and len(s) >= MIN_SECRET_LENGTH]
    if values:
        data = _scrub(data, values)
    return RunStory.from_dict(data)


def _mask_contract_samples(node: dict[str, Any], rule: NodePrivacy) -> None:
    contracts = node.get("contracts") or {}
    summaries = node.get("extra", {}).get("contracts")
    quoted: list[tuple[str, str]] = []  # how the error message quotes a sample: raw -> masked
    hidden: set[str] = set()
    for position, test in enumerate(contracts.get("tests") or ()):
        sample = list(test.get("sample") or ())
        touches = rule.touches(int(test.get("index", position)))
        masked = [_mask_sample(value, rule.columns, touches) for value in sample]
        if masked == sample:
            continue
        quoted.append((json.dumps(sample, default=str), json.dumps(masked, default=str)))
        hidden.update(_private_texts(sample, rule.columns, touches))
        test["sample"] = masked
        if isinstance(summaries, list) and position < len(summaries) \
                and isinstance(summaries[position], dict):
            summaries[position]["sample"] = masked
    error = node.get("error")
    if error and quoted:
        message = error["message"]
        for raw, masked_text in quoted:
            message = message.replace(raw, masked_text)
        error["message"] = mask_secrets(message, hidden, MASK)


def _mask_sample(value: Any, columns: Collection[str], touches: bool) -> Any:
    if isinstance(value, dict):
        return {k: MASK if k in columns or is_secret_column(str(k)) else v for k, v in value.items()}
    return MASK if touches and value is not None else value


def _private_texts(sample: list[Any], columns: Collection[str], touches: bool) -> set[str]:
    texts: set[str] = set()
    for value in sample:
        if isinstance(value, dict):
            texts.update(str(v) for k, v in value.items() if k in columns and v is not None)
        elif touches and value is not None:
            texts.add(str(value))
    return {text for text in texts if len(text) >= MIN_SECRET_LENGTH}


def _mask_secret_columns(row: dict[str, Any]) -> dict[str, Any]:
    return {k: MASK if is_secret_column(str(k)) and v is not None else v for k, v in row.items()}


def _scrub(value: Any, secrets: list[str]) -> Any:
    """``value`` with ``secrets`` masked in every string of it, in any spelling (an API may
    echo a key percent-encoded: see :mod:`odibi_core.secret_text`)."""
    if isinstance(value, str):
        return mask_secrets(value, secrets, MASK)
    if isinstance(value, dict):
        return {key: _scrub(item, secrets) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_scrub(item, secrets) for item in value)
    return value

