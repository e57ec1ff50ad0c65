"""The one place that creates the Logger and Metrics. Service and namespace come from the
POWERTOOLS_* environment variables the template sets in Globals."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="shipshape")
# service given explicitly: the embedded runtime sets POWERTOOLS_* only after this import, and
# every metric must carry the same {service} dimension the CloudWatch alarm names.
metrics = Metrics(namespace="Shipshape", service="shipshape")
