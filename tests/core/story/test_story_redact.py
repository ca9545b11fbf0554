"""Secrets and ``privacy`` columns never show in a story, in any format."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from odibi_core.config import load_project
from odibi_core.results import ErrorInfo, NodeResult, TestResult, ValidationResult
from odibi_core.runs import secret_values
from odibi_core.story import RunStory, render_html, render_json, render_markdown
from odibi_core.story.redact import NodePrivacy, is_secret_column, redact_story
from odibi_core.story.schema import schema_errors

VAULT_KEY = "dmF1bHQta2V5LTAxMjM0NTY3ODk="  # an account key (base64), from ${ODIBI_STORY_VAULT_KEY}
SQL_TOKEN = "sqlT0ken-abcdefgh"  # a secret-named variable used only in a node's SQL
RAW = ("alice@corp.example", "bob@corp.example", "tok-aaaa1111", "tok-bbbb2222", VAULT_KEY, SQL_TOKEN)

PROJECT = """\
project: secrets
connections:
  src: {type: local, base_path: ./src}
  lake: {type: local, base_path: ./lake}
  vault:
    type: azure_blob
    account_name: acct
    container: c
    auth: {mode: account_key, account_key: "${ODIBI_STORY_VAULT_KEY}"}
story: {connection: lake, path: _stories}
system: {connection: lake, path: _system}
pipelines:
  - pipeline: p
    nodes:
      - name: people
        read: {connection: src, format: csv, path: people.csv}
        transform: {steps: ["SELECT id, email, api_token, '${ODIBI_STORY_SQL_TOKEN}' AS note FROM df"]}
        privacy: {method: mask, columns: [email]}
        write: {connection: lake, format: delta, path: people}
      - name: strict
        read: {connection: src, format: csv, path: people.csv}
        contracts:
          - {type: accepted_values, column: email, values: [nobody@corp.example]}
          - {type: not_null, columns: [id]}
        privacy: {method: hash, columns: [email]}
        transform: {steps: ["SELECT id, email, '${ODIBI_STORY_VAULT_KEY}' AS k FROM df"]}
        write: {connection: lake, format: delta, path: strict}
      - name: report
        depends_on: [people]
        transform: {steps: ["SELECT count(*) AS n FROM people"]}
"""


def test_a_real_run_masks_secrets_and_private_values_in_every_format(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from odibi_dagster.execution import run_project

    monkeypatch.setenv("ODIBI_STORY_VAULT_KEY", VAULT_KEY)
    monkeypatch.setenv("ODIBI_STORY_SQL_TOKEN", SQL_TOKEN)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "people.csv").write_text(
        "id,email,api_token\n1,alice@corp.example,tok-aaaa1111\n2,bob@corp.example,tok-bbbb2222\n",
        encoding="utf-8")
    (tmp_path / "odibi.yaml").write_text(PROJECT, encoding="utf-8")
    project = load_project(tmp_path / "odibi.yaml")
    outcome = run_project(project, list(project.graph.topological_order()))
    assert not outcome.success  # `strict` breaks its contract

    (html_path,) = outcome.stories
    texts = {suffix: html_path.with_suffix(suffix).read_text(encoding="utf-8")
             for suffix in (".json", ".html", ".md")}
    for suffix, text in texts.items():
        leaked = [value for value in RAW if value in text]
        assert leaked == [], f"{suffix} story shows {leaked}"
    # The run records under system and the Dagster materialization metadata are masked too.
    import dagster as dg

    from odibi_core.runs import system_root

    for record in (system_root(project) / "runs" / outcome.run_id).rglob("*.json"):
        text = record.read_text(encoding="utf-8")
        assert [v for v in RAW if v in text] == [], f"{record} shows a secret"
    with dg.DagsterInstance.get() as instance:
        events = instance.fetch_materializations(dg.AssetKey(["p", "people"]), limit=5).records
        metadata = str([e.asset_materialization.metadata for e in events])
    assert events and [v for v in RAW if v in metadata] == []

    data = json.loads(texts[".json"])
    assert schema_errors(data) == []  # a real story matches the documented schema
    nodes = {node["node"]: node for node in data["nodes"]}
    people = nodes["people"]
    assert [row["api_token"] for row in people["sample_rows"]] == ["***", "***"]
    assert [row["note"] for row in people["sample_rows"]] == ["***", "***"]
    assert all(row["email"].endswith("mple") and "*" in row["email"] for row in people["sample_rows"])
    assert people["sql_executed"] == ["SELECT id, email, api_token, '***' AS note FROM df"]
    strict = nodes["strict"]
    assert strict["status"] == "failed"
    assert strict["contracts"]["tests"][0]["sample"] == ["***", "***"]
    assert strict["extra"]["contracts"][0]["sample"] == ["***", "***"]
    assert 'sample failing values: ["***", "***"]' in strict["error"]["message"]
    assert data["edges"] == [["p.people", "p.report"]]
    assert "p.people" in texts[".md"] or "people" in texts[".md"]
    index = (html_path.parent.parent / "index.html").read_text(encoding="utf-8")
    assert data["run_id"] in index and html_path.name in index


def test_secret_values_come_from_connections_urls_headers_and_secret_named_variables(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ODIBI_STORY_VAULT_KEY", VAULT_KEY)
    monkeypatch.setenv("ODIBI_STORY_API_PASSWORD", "pw-from-environment")
    text = PROJECT.replace("story: {", (
        "  db: {type: sql, url: 'postgresql://me:p%40ss-word@db:5432/x'}\n"
        "  api: {type: http, base_url: 'https://api.example', headers: {Authorization: 'Bearer abc-123'}}\n"
        "story: {")).replace("${ODIBI_STORY_SQL_TOKEN}", "x")
    (tmp_path / "odibi.yaml").write_text(text, encoding="utf-8")
    found = secret_values(load_project(tmp_path / "odibi.yaml"))
    assert {VAULT_KEY, "p%40ss-word", "p@ss-word", "Bearer abc-123", "pw-from-environment"} <= found
    assert "acct" not in found and "account_key" not in found


def test_redact_story_masks_private_contract_samples_only(story: RunStory) -> None:
    sample_one = TestResult(name="emails", type="accepted_values", kind="contract", index=0,
                            on_fail="fail", passed=False, total_rows=3, failing_rows=2,
                            sample=("ann@x.org", "ben@x.org"))
    sample_rows = TestResult(name="pairs", type="unique", kind="contract", index=1,
                             on_fail="fail", passed=False, total_rows=3, failing_rows=2,
                             sample=({"id": 7, "email": "cy@x.org"},))
    public = TestResult(name="ids", type="not_null", kind="contract", index=2, on_fail="fail",
                        passed=False, total_rows=3, failing_rows=1, sample=(4321,))
    contracts = ValidationResult(kind="contract", total_rows=3,
                                 tests=(sample_one, sample_rows, public))
    message = ('breaks: sample failing values: ["ann@x.org", "ben@x.org"]; '
               'sample failing values: [{"id": 7, "email": "cy@x.org"}]; also cy@x.org')
    node = NodeResult(pipeline="sales", node="crm", status="failed",
                      started_at="2024-05-01T06:00:03Z", duration_seconds=0.1, engine="pandas",
                      contracts=contracts, error=ErrorInfo("DataError", message, "contracts"),
                      sample_rows=({"id": 1, "password": "hunter22", "token_note": None},),
                      extra={"contracts": contracts.summary()})
    privacy = {"crm": NodePrivacy(frozenset({"email"}), {0: ("email",), 1: ("id", "email"),
                                                           2: ("id",)})}
    masked = redact_story(dataclasses.replace(story, nodes=(node,)), privacy=privacy)
    (crm,) = masked.nodes
    assert crm.contracts is not None
    assert [t.sample for t in crm.contracts.tests] == [("***", "***"), ({"id": 7, "email": "***"},),
                                                       (4321,)]
    assert [t["sample"] for t in crm.extra["contracts"]] == [["***", "***"],
                                                             [{"id": 7, "email": "***"}], [4321]]
    assert crm.error is not None and "@x.org" not in crm.error.message
    assert crm.sample_rows == ({"id": 1, "password": "***", "token_note": None},)


def test_redact_story_replaces_secrets_everywhere(story: RunStory) -> None:
    secret = "Zq9-secret-value"
    node = dataclasses.replace(story.nodes[0], sql_executed=(f"SELECT '{secret}'",),
                               sample_rows=({"v": f"x{secret}x"},), extra={"deep": [{"k": secret}]})
    leaky = dataclasses.replace(story, nodes=(node,), extra={"note": secret})
    clean = redact_story(leaky, secrets=[secret, "ab"])  # too short to mask: ignored
    for text in (render_json(clean), render_html(clean), render_markdown(clean)):
        assert secret not in text and "***" in text
    assert clean.nodes[0].sql_executed == ("SELECT '***'",)
    assert redact_story(story) == story  # nothing to mask: unchanged


@pytest.mark.parametrize(("name", "secret"), [
    ("password", True), ("db_password", True), ("api_key", True), ("ApiKey", True),
    ("client_secret", True), ("access_token", True), ("order_key", False), ("email", False),
    ("compass", False), ("customer_id", False),
])
def test_secret_looking_columns(name: str, secret: bool) -> None:
    assert is_secret_column(name) is secret
