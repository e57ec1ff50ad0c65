"""Which credential each fake store accepts: from the clients' configs and a secrets
mapping, or from the repository's development secrets (what the embedded runtime's secret
store holds, so the API client and the fake agree)."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

from shipshape.config import ClientConfig, load_client_file
from shipshape_local.storefront_fakes.common import PLATFORMS

DEV_SECRETS = Path(__file__).parent.parent / "dev-secrets.toml"
CLIENTS_DIR = Path(__file__).resolve().parents[3] / "config" / "clients"


def credentials_for(
    clients: Iterable[ClientConfig], secrets: Mapping[str, str]
) -> dict[tuple[str, str], str]:
    """``(platform, store) -> credential`` for every store with an API credential named in
    its client's config and present in ``secrets``."""
    found: dict[tuple[str, str], str] = {}
    for client in clients:
        for store in client.stores:
            name = store.api_token_secret_name
            if name and name in secrets and store.platform.value in PLATFORMS:
                found[store.platform.value, store.store] = secrets[name]
    return found


def dev_credentials(
    config_dir: Path = CLIENTS_DIR, secrets_file: Path = DEV_SECRETS
) -> dict[tuple[str, str], str]:
    """The credentials of the repository's clients, from the development secrets: what the
    embedded runtime's secret store holds, so the API client and the fake agree."""
    secrets = tomllib.loads(secrets_file.read_text(encoding="utf-8"))["secrets"]
    clients = [load_client_file(path) for path in sorted(config_dir.glob("*.toml"))]
    return credentials_for(clients, secrets)
