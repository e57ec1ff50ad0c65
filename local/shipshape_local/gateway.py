"""API Gateway (HTTP API, payload format 2.0) in front of the embedded stack's handlers: match a
route, authorize it as the JWT authorizer does (the bearer token verified against the local
issuer's keys, ``issuer.verify``), build the event, call the route's function, and answer as
API Gateway does: its own errors byte for byte, its payload limit, and the stage's access log
line (metered).
"""

from __future__ import annotations

import base64
import json
import re
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from shipshape_local import limits, metering
from shipshape_local.issuer import verify
from shipshape_local.lambdas import FunctionTimedOut, InProcessLambdas, PayloadTooLarge
from shipshape_local.metering import Meter
from shipshape_local.stack import ACCOUNT
from shipshape_local.template import Route, Template

API_BODY_LIMIT = limits.API_PAYLOAD_BYTES  # HTTP API's own payload limit


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class HttpApi:
    """The stack's HTTP API. ``function_names`` maps each function's logical id to the name it
    is invoked by (filled as the stack is built); a handler's crash is kept, as its traceback,
    in ``integration_errors``."""

    def __init__(
        self,
        template: Template,
        *,
        lambdas: InProcessLambdas,
        function_names: Mapping[str, str],
        jwks: Callable[[], Mapping[str, Any]],
        names: Mapping[str, str],
        clock: Callable[[], datetime],
        meter: Meter,
        integration_errors: list[str],
        session_clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._lambdas = lambdas
        self._function_names = function_names
        self._jwks = jwks
        self._jwt = jwt_configurations(template, names)
        self._clock = clock
        # The clock tokens are checked on: the stack's, unless sign-in keeps real time.
        self._session_clock = session_clock or clock
        self._meter = meter
        self.integration_errors = integration_errors
        # How long API Gateway waits for a function's answer (its quota; a test may shorten it).
        self.integration_timeout = limits.API_INTEGRATION_SECONDS
        self._routes: list[Route] = template.routes
        # Which routes start an X-Ray trace (their function traced Active), for metering.
        functions = template.functions
        self._traced_routes = {
            r.route_key for r in self._routes if functions[r.function].tracing == "Active"
        }
        self._access_log = access_log_format(template)

    def http(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | str | None = None,
        base64_body: bool = False,
    ) -> HttpResponse:
        """Serve one request as API Gateway would: match a route, authorize it, build the
        payload-2.0 event and call the route's handler."""
        subject = self._meter.hint or metering.SHARED
        started = time.perf_counter()
        with self._meter.serving(subject):
            response, route_key, request_id = self._serve(
                method, path, headers=headers, body=body, base64_body=base64_body
            )
        self._meter.api_request(subject, route_key, self._access_log_bytes(
            request_id, route_key, response, time.perf_counter() - started),
            traced=route_key in self._traced_routes)  # fmt: skip
        return response

    def _access_log_bytes(
        self, request_id: str, route_key: str, response: HttpResponse, seconds: float
    ) -> int:
        """The size of the access log line the stage writes for a request (its format is in
        the template)."""
        values = {
            "requestId": request_id, "identity.sourceIp": "127.0.0.1", "routeKey": route_key,
            "status": str(response.status), "responseLatency": str(round(seconds * 1000)),
            "integrationErrorMessage": "-",
        }  # fmt: skip
        line = re.sub(r"\$context\.([A-Za-z.]+)", lambda m: values.get(m[1], "-"), self._access_log)
        return len(line.encode())

    def _serve(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None,
        body: bytes | str | None,
        base64_body: bool,
    ) -> tuple[HttpResponse, str, str]:
        request_id = str(uuid.uuid4())
        raw_path, _, query = path.partition("?")
        data = body.encode() if isinstance(body, str) else (body or b"")
        lowered = {k.lower(): v for k, v in (headers or {}).items()}
        if len(data) > API_BODY_LIMIT:
            return gateway_error(413, "Request Entity Too Large"), "-", request_id
        route, params = self._match(method.upper(), raw_path)
        if route is None:
            return gateway_error(404, "Not Found"), "-", request_id
        authorizer: dict[str, Any] | None = None
        if route.authorizer:
            claims = self._claims(route.authorizer, lowered.get("authorization", ""))
            if claims is None:
                return gateway_error(401, "Unauthorized"), route.route_key, request_id
            authorizer = {"jwt": {"claims": claims, "scopes": None}}
        event = self.api_event(
            route, params, raw_path, query, lowered, data,
            base64_body=base64_body, request_id=request_id, authorizer=authorizer,
        )  # fmt: skip
        started = time.monotonic()
        try:
            result = self._lambdas.invoke(self._function_names[route.function], event)
        except FunctionTimedOut:
            # API Gateway's answer when the function runs out of time or dies.
            return gateway_error(503, "Service Unavailable"), route.route_key, request_id
        except PayloadTooLarge as exc:
            # A request Lambda refuses (the body fits the API's 10 MB but the event passes
            # Lambda's 6 MB) is the caller's; a response over 6 MB is the integration's fault.
            if exc.error_type == "RequestTooLargeException":
                return gateway_error(413, "Request Entity Too Large"), route.route_key, request_id
            self.integration_errors.append(traceback.format_exc())
            return gateway_error(500, "Internal Server Error"), route.route_key, request_id
        except Exception:  # noqa: BLE001 - API Gateway answers 500 when the integration fails
            self.integration_errors.append(traceback.format_exc())
            return gateway_error(500, "Internal Server Error"), route.route_key, request_id
        if time.monotonic() - started > self.integration_timeout:
            # API Gateway stopped waiting at its integration timeout (30 s for HTTP APIs);
            # the function ran on, and its answer reached nobody.
            return gateway_error(503, "Service Unavailable"), route.route_key, request_id
        payload = result.get("body") or ""
        raw = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
        answer = HttpResponse(
            status=int(result.get("statusCode", 200)),
            headers={k.lower(): str(v) for k, v in (result.get("headers") or {}).items()},
            body=raw,
        )
        return answer, route.route_key, request_id

    def api_event(
        self,
        route: Route,
        params: dict[str, str],
        raw_path: str,
        query: str,
        headers: dict[str, str],
        data: bytes,
        *,
        base64_body: bool = False,
        request_id: str = "",
        authorizer: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The payload-2.0 event API Gateway's HTTP API gives the route's function (headers
        already lower-cased)."""
        text: str | None
        try:
            text = None if base64_body else data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        return {
            "version": "2.0",
            "routeKey": route.route_key,
            "rawPath": raw_path,
            "rawQueryString": query,
            "headers": headers,
            "queryStringParameters": dict(parse_qsl(query)) or None,
            "pathParameters": params,
            "requestContext": {
                "accountId": ACCOUNT,
                "apiId": "embedded",
                "domainName": "127.0.0.1",
                "http": {
                    "method": route.method,
                    "path": raw_path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "127.0.0.1",
                    "userAgent": headers.get("user-agent", ""),
                },
                "requestId": request_id or str(uuid.uuid4()),
                "routeKey": route.route_key,
                "stage": "$default",
                "time": self._clock().strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "timeEpoch": int(self._clock().timestamp() * 1000),
                **({"authorizer": authorizer} if authorizer else {}),
            },
            "body": text if text is not None else base64.b64encode(data).decode(),
            "isBase64Encoded": text is None,
        }

    def event_for(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Any:
        """The event API Gateway would give the function of an unauthenticated route (a
        webhook), to call its handler directly (bench/ingest.py)."""
        raw_path, _, query = path.partition("?")
        route, params = self._match(method.upper(), raw_path)
        if route is None or route.authorizer:
            raise ValueError(f"no open route for {method} {path}")
        lowered = {k.lower(): v for k, v in headers.items()}
        return self.api_event(route, params, raw_path, query, lowered, body)

    def _match(self, method: str, path: str) -> tuple[Route | None, dict[str, str]]:
        # An HTTP API route is a method and a path, and "if no routes match a request, API
        # Gateway returns {"message":"Not Found"} to the client"; a path served for another
        # method (HEAD or OPTIONS on a GET route, TRACE anywhere) is a 404 too, never a 405.
        # https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html#http-api-develop-routes.evaluation
        for route in self._routes:
            if route.method != method:
                continue
            found = route.pattern.match(path)
            if found:
                return route, found.groupdict()
        return None, {}

    def _claims(self, authorizer: str, authorization: str) -> dict[str, Any] | None:
        """The claims of a bearer token the route's JWT authorizer accepts, else None (401).
        The identity source may hold the JWT alone or prefixed with ``Bearer``, as at API
        Gateway."""
        scheme, _, rest = authorization.strip().partition(" ")
        token = rest.strip() if scheme.lower() == "bearer" else authorization.strip()
        issuer, audience = self._jwt[authorizer]
        return verify(
            token, jwks=self._jwks(), issuer=issuer, audience=audience, now=self._session_clock()
        )


def jwt_configurations(
    template: Template, names: Mapping[str, str]
) -> dict[str, tuple[str, list[str]]]:
    """Each JWT authorizer of the HTTP API: its issuer and audience, with the template's
    references (``${AWS::Region}``, the user pool, its client) resolved by ``names``."""

    def resolved(value: Any) -> str:
        if isinstance(value, dict) and "Ref" in value:
            return names[value["Ref"]]
        if isinstance(value, dict) and "Fn::Sub" in value:
            return re.sub(r"\$\{([A-Za-z0-9:]+)\}", lambda m: names[m[1]], value["Fn::Sub"])
        return str(value)

    found: dict[str, tuple[str, list[str]]] = {}
    for api in template.of_type("AWS::Serverless::HttpApi").values():
        authorizers = api.get("Properties", {}).get("Auth", {}).get("Authorizers", {})
        for name, spec in authorizers.items():
            config = spec["JwtConfiguration"]
            found[name] = (resolved(config["issuer"]), [resolved(a) for a in config["audience"]])
    return found


def access_log_format(template: Template) -> str:
    """The HTTP API stage's access log format (one line per request)."""
    api = next(iter(template.of_type("AWS::Serverless::HttpApi").values()), {})
    settings = api.get("Properties", {}).get("AccessLogSettings", {})
    return str(settings.get("Format", "")).replace("\n", "")


def gateway_error(status: int, message: str) -> HttpResponse:
    """An answer of API Gateway's own, byte for byte as it sends it: {"message":"Not Found"}."""
    body = json.dumps({"message": message}, separators=(",", ":")).encode()
    return HttpResponse(status, {"content-type": "application/json"}, body)
