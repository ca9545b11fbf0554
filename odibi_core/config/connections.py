"""Connection models, one per ``type`` (SPEC §2).

These only describe a connection; ``odibi_core.connections`` builds the runtime objects from them.
Secret fields (keys, tokens, passwords) are plain strings here: redaction is the runtime's job, and
the loader never echoes the value of a secret-looking key in a message.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from odibi_core.config.base import OdibiModel

__all__ = [
    "AadMsiAuthConfig",
    "AccountKeyAuthConfig",
    "AzureAuthConfig",
    "AzureBlobConnectionConfig",
    "ConnectionConfig",
    "ConnectionStringAuthConfig",
    "DeltaCatalogConnectionConfig",
    "HttpApiKeyAuthConfig",
    "HttpAuthConfig",
    "HttpBasicAuthConfig",
    "HttpBearerAuthConfig",
    "HttpConnectionConfig",
    "LocalConnectionConfig",
    "SasAuthConfig",
    "SqlConnectionConfig",
]


class LocalConnectionConfig(OdibiModel):
    """Files on the local disk; node paths are relative to ``base_path`` (itself relative to the
    project file's folder when not absolute). A path leaving ``base_path`` (``../x``, an
    absolute path elsewhere) is refused unless ``allow_outside_base_path`` is true."""

    type: Literal["local"]
    base_path: str
    allow_outside_base_path: bool = False


# --- Azure -------------------------------------------------------------------------------------


class AccountKeyAuthConfig(OdibiModel):
    mode: Literal["account_key"]
    account_key: str


class SasAuthConfig(OdibiModel):
    mode: Literal["sas"]
    sas_token: str


class ConnectionStringAuthConfig(OdibiModel):
    mode: Literal["connection_string"]
    connection_string: str


class AadMsiAuthConfig(OdibiModel):
    """Managed identity; ``client_id`` picks a user-assigned identity."""

    mode: Literal["aad_msi"]
    client_id: str | None = None


AzureAuthConfig = Annotated[
    AccountKeyAuthConfig | SasAuthConfig | ConnectionStringAuthConfig | AadMsiAuthConfig,
    Field(discriminator="mode"),
]


class AzureBlobConnectionConfig(OdibiModel):
    """Azure Blob Storage / ADLS Gen2 (``azure_adls`` is an alias of ``azure_blob``).

    ``endpoint`` points at an emulator such as Azurite; ``auth`` absent means the ambient
    credential chain.
    """

    type: Literal["azure_blob", "azure_adls"]
    account_name: str
    container: str
    auth: AzureAuthConfig | None = None
    endpoint: str | None = None


# --- Delta catalog -----------------------------------------------------------------------------


class DeltaCatalogConnectionConfig(OdibiModel):
    """Spark metastore tables (``table:`` in read/write). ``schema`` is the database."""

    type: Literal["delta"]
    catalog: str | None = None
    # ``schema`` would shadow BaseModel.schema: the attribute is schema_name, the YAML key schema.
    schema_name: str = Field(default="default", alias="schema")


# --- HTTP --------------------------------------------------------------------------------------


class HttpBearerAuthConfig(OdibiModel):
    mode: Literal["bearer"]
    token: str


class HttpBasicAuthConfig(OdibiModel):
    mode: Literal["basic"]
    username: str
    password: str


class HttpApiKeyAuthConfig(OdibiModel):
    """An API key sent in a header (``X-API-Key`` unless ``header`` says otherwise)."""

    mode: Literal["api_key"]
    api_key: str
    header: str = "X-API-Key"


HttpAuthConfig = Annotated[
    HttpBearerAuthConfig | HttpBasicAuthConfig | HttpApiKeyAuthConfig,
    Field(discriminator="mode"),
]


class HttpConnectionConfig(OdibiModel):
    """A JSON API for ``format: api`` reads; node ``path`` is appended to ``base_url``."""

    type: Literal["http"]
    base_url: str
    headers: dict[str, str] = Field(default_factory=dict)
    auth: HttpAuthConfig | None = None


# --- SQL ---------------------------------------------------------------------------------------


class SqlConnectionConfig(OdibiModel):
    """A database reachable through SQLAlchemy (``format: sql`` reads)."""

    type: Literal["sql"]
    url: str


ConnectionConfig = Annotated[
    LocalConnectionConfig
    | AzureBlobConnectionConfig
    | DeltaCatalogConnectionConfig
    | HttpConnectionConfig
    | SqlConnectionConfig,
    Field(discriminator="type"),
]
"""Any connection, chosen by its ``type``."""
