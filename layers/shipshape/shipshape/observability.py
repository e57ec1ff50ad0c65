"""The one place that creates the Logger and Metrics. Service and namespace come from the
POWERTOOLS_* environment variables the template sets in Globals."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="shipshape")
metrics = Metrics(namespace="Shipshape")
