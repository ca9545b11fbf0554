"""Connection models, one per ``type`` (SPEC §2).

These only describe a connection; ``odibi_core.connections`` builds the runtime objects from them.
Secret fields (keys, tokens, passwords) are plain strings here: redaction is the runtime's job, and
the loader never echoes the value of a secret-looking key in a message.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

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

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"type": "local", "base_path": "./lake"},
    ]})

    type: Literal["local"]
    """Files on the local disk."""
    base_path: str
    """The folder node paths are relative to; a relative base_path is relative to the project
    file's folder."""
    allow_outside_base_path: bool = False
    """Allow node paths that leave base_path (../x, or an absolute path elsewhere)."""


# --- Azure -------------------------------------------------------------------------------------


class AccountKeyAuthConfig(OdibiModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"mode": "account_key", "account_key": "${AZURE_STORAGE_KEY}"},
    ]})

    mode: Literal["account_key"]
    """Authenticate with the storage account key."""
    account_key: str
    """The account key; write it as ${ENV_VAR}, never in the file."""


class SasAuthConfig(OdibiModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"mode": "sas", "sas_token": "${AZURE_SAS_TOKEN}"},
    ]})

    mode: Literal["sas"]
    """Authenticate with a shared access signature."""
    sas_token: str
    """The SAS token; write it as ${ENV_VAR}."""


class ConnectionStringAuthConfig(OdibiModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"mode": "connection_string", "connection_string": "${AZURE_STORAGE_CONNECTION_STRING}"},
    ]})

    mode: Literal["connection_string"]
    """Authenticate with a storage connection string."""
    connection_string: str
    """The connection string; write it as ${ENV_VAR}."""


class AadMsiAuthConfig(OdibiModel):
    """Managed identity; ``client_id`` picks a user-assigned identity."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"mode": "aad_msi"},
    ]})

    mode: Literal["aad_msi"]
    """Authenticate with a managed identity (Azure AD)."""
    client_id: str | None = None
    """The client id of a user-assigned identity; absent, the system-assigned one."""


AzureAuthConfig = Annotated[
    AccountKeyAuthConfig | SasAuthConfig | ConnectionStringAuthConfig | AadMsiAuthConfig,
    Field(discriminator="mode"),
]


class AzureBlobConnectionConfig(OdibiModel):
    """Azure Blob Storage / ADLS Gen2 (``azure_adls`` is an alias of ``azure_blob``).

    ``endpoint`` points at an emulator such as Azurite; ``auth`` absent means the ambient
    credential chain.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"type": "azure_blob",
         "account_name": "acme",
         "container": "lake",
         "auth": {"mode": "account_key", "account_key": "${AZURE_STORAGE_KEY}"}},
    ]})

    type: Literal["azure_blob", "azure_adls"]
    """Azure Blob Storage or ADLS Gen2 (the two names mean the same)."""
    account_name: str
    """The storage account."""
    container: str
    """The container (file system) node paths are in."""
    auth: AzureAuthConfig | None = None
    """How to authenticate, by mode; absent, the ambient credential chain (environment, managed
    identity, az login)."""
    endpoint: str | None = None
    """The blob endpoint URL, for an emulator such as Azurite."""


# --- Delta catalog -----------------------------------------------------------------------------


class DeltaCatalogConnectionConfig(OdibiModel):
    """Spark metastore tables (``table:`` in read/write). ``schema`` is the database."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"type": "delta", "catalog": "main", "schema": "sales"},
    ]})

    type: Literal["delta"]
    """Tables of the Spark metastore, read and written with table: instead of path:."""
    catalog: str | None = None
    """The catalog (Unity Catalog and the like); absent, the session's current one."""
    # ``schema`` would shadow BaseModel.schema: the attribute is schema_name, the YAML key schema.
    schema_name: str = Field(default="default", alias="schema")
    """The database (schema) the tables are in."""


# --- HTTP --------------------------------------------------------------------------------------


class HttpBearerAuthConfig(OdibiModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"mode": "bearer", "token": "${API_TOKEN}"},
    ]})

    mode: Literal["bearer"]
    """Send Authorization: Bearer <token>."""
    token: str
    """The token; write it as ${ENV_VAR}."""


class HttpBasicAuthConfig(OdibiModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"mode": "basic", "username": "reporting", "password": "${API_PASSWORD}"},
    ]})

    mode: Literal["basic"]
    """HTTP basic authentication."""
    username: str
    """The user name."""
    password: str
    """The password; write it as ${ENV_VAR}."""


class HttpApiKeyAuthConfig(OdibiModel):
    """An API key sent in a header (``X-API-Key`` unless ``header`` says otherwise)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"mode": "api_key", "api_key": "${API_KEY}", "header": "X-API-Key"},
    ]})

    mode: Literal["api_key"]
    """Send an API key in a header."""
    api_key: str
    """The key; write it as ${ENV_VAR}."""
    header: str = "X-API-Key"
    """The header the key is sent in."""


HttpAuthConfig = Annotated[
    HttpBearerAuthConfig | HttpBasicAuthConfig | HttpApiKeyAuthConfig,
    Field(discriminator="mode"),
]


class HttpConnectionConfig(OdibiModel):
    """A JSON API for ``format: api`` reads; node ``path`` is appended to ``base_url``."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"type": "http",
         "base_url": "https://api.example.com/v1",
         "auth": {"mode": "bearer", "token": "${API_TOKEN}"}},
    ]})

    type: Literal["http"]
    """A JSON API, read with format: api."""
    base_url: str
    """The API's base URL; a node's read.path is appended to it."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Headers sent with every request."""
    auth: HttpAuthConfig | None = None
    """How to authenticate, by mode; absent, no authentication."""


# --- SQL ---------------------------------------------------------------------------------------


class SqlConnectionConfig(OdibiModel):
    """A database reachable through SQLAlchemy (``format: sql`` reads)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"type": "sql", "url": "postgresql+psycopg://reader:${DB_PASSWORD}@localhost/shop"},
    ]})

    type: Literal["sql"]
    """A database reachable through SQLAlchemy, read with format: sql."""
    url: str
    """The SQLAlchemy URL (postgresql+psycopg://user:${DB_PASSWORD}@host/db); its password is never
    shown."""


ConnectionConfig = Annotated[
    LocalConnectionConfig
    | AzureBlobConnectionConfig
    | DeltaCatalogConnectionConfig
    | HttpConnectionConfig
    | SqlConnectionConfig,
    Field(discriminator="type"),
]
"""Any connection, chosen by its ``type``."""
