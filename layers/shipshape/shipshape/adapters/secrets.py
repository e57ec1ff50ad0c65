"""Secrets through Powertools parameters (Secrets Manager), cached per process."""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters

from shipshape.ports import SecretStore


class SecretsManagerStore(SecretStore):
    def __init__(self, max_age_seconds: int) -> None:
        self._max_age = max_age_seconds

    def get(self, name: str) -> bytes:
        try:
            value = parameters.get_secret(name, max_age=self._max_age)
        except parameters.exceptions.GetParameterError as exc:
            # The library's message can carry the service's text; keep only the name.
            raise KeyError(f"secret {name} is not available") from exc
        return value.encode() if isinstance(value, str) else value
