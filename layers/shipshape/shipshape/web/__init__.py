"""The operators' dashboard: a static page and its vendored assets, served by the ops API.

The page holds no data of its own; it calls the ops API with the operator's token."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

router = Router()
