"""Secrets through Powertools parameters (Secrets Manager), cached per process."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from shipshape.ports import SecretStore

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider


class SecretsManagerStore(SecretStore):
    """``client`` makes the Secrets Manager client on first use (shipshape.bootstrap's, on the
    process's one boto3 session). Powertools parameters is imported then too: only the
    functions that read secrets pay for it at cold start."""

    def __init__(self, max_age_seconds: int, client: Callable[[], Any]) -> None:
        self._max_age = max_age_seconds
        self._client = client

    @cached_property
    def _provider(self) -> SecretsProvider:
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        return SecretsProvider(boto3_client=self._client())

    def get(self, name: str) -> bytes:
        from aws_lambda_powertools.utilities import parameters

        try:
            value = self._provider.get(name, max_age=self._max_age)
        except parameters.exceptions.GetParameterError as exc:
            # The library's message can carry the service's text; keep only the name.
            raise KeyError(f"secret {name} is not available") from exc
        if isinstance(value, str):
            return value.encode()
        if isinstance(value, bytes):
            return value
        raise KeyError(f"secret {name} holds no text")
