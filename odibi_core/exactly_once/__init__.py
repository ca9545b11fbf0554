"""Exactly-once writes (SPEC §7): batch identity, the write ledger and the guarded write."""

from odibi_core.exactly_once.guard import (
    BatchPlan,
    committed_delta_version,
    recover,
    target_lock,
    write_batch,
)
from odibi_core.exactly_once.identity import (
    BatchIdentity,
    app_id_for,
    content_identity,
    explicit_identity,
    input_identity,
    partition_identity,
    source_state,
    upstream_identity,
)
from odibi_core.exactly_once.ledger import BatchLedger, LedgerEntry

__all__ = [
    "BatchIdentity", "BatchLedger", "BatchPlan", "LedgerEntry", "app_id_for",
    "committed_delta_version", "content_identity", "explicit_identity", "input_identity",
    "partition_identity", "recover", "source_state", "target_lock", "upstream_identity",
    "write_batch",
]
