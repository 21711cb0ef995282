"""PostgreSQL sign-in with a Microsoft Entra access token of the collector's managed identity.

Azure Database for PostgreSQL with Entra authentication takes an access token for the resource
``https://ossrdbms-aad.database.windows.net`` as the password (learn postgresql/flexible-server/
how-to-connect-with-managed-identity). The URL opts in with the query parameter
``fleetward_entra_client_id=<client id of the user-assigned identity>``, which is removed before psycopg sees
the URL; every new connection then gets a current token (SQLAlchemy's ``do_connect`` event, the pattern of
the SQLAlchemy docs "Generating dynamic authentication tokens").

Tokens come from the Container Apps identity endpoint (``IDENTITY_ENDPOINT`` and ``IDENTITY_HEADER``,
api-version 2019-08-01; learn container-apps/managed-identity "Connect to Azure services in app code / HTTP
GET") or, on a VM, from the instance metadata service (api-version 2018-02-01). They are cached until five
minutes before they expire.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import URL

from collector.errors import StoreError

CLIENT_ID_PARAMETER = "fleetward_entra_client_id"
POSTGRES_RESOURCE = "https://ossrdbms-aad.database.windows.net"
IMDS_TOKEN_URL = "http://169.254.169.254/metadata/identity/oauth2/token"
REFRESH_MARGIN_SECONDS = 300


def split_client_id(url: URL) -> tuple[URL, str | None]:
    """The URL without the fleetward parameter, and the identity's client id if the URL asked for Entra."""
    value = url.query.get(CLIENT_ID_PARAMETER)
    if value is None:
        return url, None
    client_id = value if isinstance(value, str) else value[0]
    return url.difference_update_query([CLIENT_ID_PARAMETER]), client_id


class ManagedIdentityTokens:
    """Access tokens for PostgreSQL from the managed identity ``client_id``, cached until near expiry."""

    def __init__(
        self,
        client_id: str,
        *,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client_id = client_id
        self._environ = os.environ if environ is None else environ
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_on = 0.0

    def token(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._expires_on - REFRESH_MARGIN_SECONDS:
                self._token, self._expires_on = self._fetch()
            return self._token

    def _fetch(self) -> tuple[str, float]:
        import httpx  # only deployments that sign in with Entra pay for the import

        endpoint = self._environ.get("IDENTITY_ENDPOINT")
        params = {"resource": POSTGRES_RESOURCE, "client_id": self._client_id}
        if endpoint:
            url = endpoint
            params["api-version"] = "2019-08-01"
            headers = {"X-IDENTITY-HEADER": self._environ.get("IDENTITY_HEADER", "")}
        else:
            url = IMDS_TOKEN_URL
            params["api-version"] = "2018-02-01"
            headers = {"Metadata": "true"}
        try:
            response = httpx.get(url, params=params, headers=headers, timeout=10)
            response.raise_for_status()
            body: Any = response.json()
            return str(body["access_token"]), float(body["expires_on"])
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise StoreError(
                f"could not get an Entra token for PostgreSQL from the managed identity {self._client_id} "
                f"({type(exc).__name__}: {exc}); check that the identity is assigned to this app and is the "
                "server's Entra administrator"
            ) from exc


def use_token_password(engine: Engine, tokens: ManagedIdentityTokens) -> None:
    """Give every new connection of ``engine`` a current access token as its password."""

    @event.listens_for(engine, "do_connect")
    def _provide_token(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        cparams["password"] = tokens.token()
