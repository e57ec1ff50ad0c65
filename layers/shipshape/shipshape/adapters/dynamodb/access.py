"""Refused access, recorded per client for review."""

from __future__ import annotations

import uuid
from datetime import datetime

from shipshape.adapters.dynamodb import keys
from shipshape.adapters.dynamodb.keys import s
from shipshape.adapters.dynamodb.table import Table
from shipshape.models import AccessDenial
from shipshape.ports import AccessLog


class DynamoDBAccessLog(AccessLog):
    def __init__(self, table: Table) -> None:
        self._table = table

    def record_denial(self, denial: AccessDenial) -> None:
        self._table.put(
            {
                "pk": s(keys.denial_partition(denial.client_id)),
                "sk": s(f"{keys.utc(denial.at)}#{uuid.uuid4().hex[:12]}"),
                "entity": s("access_denial"),
                "doc": s(denial.model_dump_json()),
            }
        )

    def denials_of_client(self, client_id: str, since: datetime) -> list[AccessDenial]:
        return [
            AccessDenial.model_validate_json(i["doc"]["S"])
            for i in self._table.query_all(
                KeyConditionExpression="pk = :pk AND sk >= :since",
                ExpressionAttributeValues={
                    ":pk": s(keys.denial_partition(client_id)),
                    ":since": s(keys.utc(since)),
                },
            )
        ]
