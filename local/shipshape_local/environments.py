"""Each in-process function runs with its own environment, as each Lambda function does.

Every function of the embedded stack shares one interpreter, so without this they would share
one ``os.environ`` (the union of every function's variables) and one container of adapters
built from it: a variable missing from one function's template entry would go unnoticed
because another function's entry set it. Here, while a function's invocation runs:

- ``os.environ`` holds what Lambda would give that function: the process's own variables
  (the fake AWS credentials and region) with none of the template's, then the template's
  ``Globals`` and that function's ``Environment``, then the embedded stack's plumbing (where
  the client files and the fake storefronts are; ``RUNTIME_VARIABLES``). Its init (the module's
  first import) runs under it, so a setting its entry lacks fails its init, naming it.
- ``shipshape.bootstrap.container()`` answers that function's own container, built under that
  environment on its first use, as each Lambda function builds its own at cold start.

Outside an invocation (the runtime seeding stock, a test reading the table) the process sees
every function's variables and the runtime's own container, as before.

What stays shared, because it is one interpreter: modules' import-time state outside the
functions' own modules (Powertools' logger and metrics are made once, from the ``Globals``
that every function shares, so nothing differs there today) and boto3's clients.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

# Variables the embedded stack gives every function beyond its template entry: where this
# machine keeps what a deployed stack has in the layer (the client files) or on the internet
# (the storefronts' APIs), and the user pool's domain (served on the runtime's own origin).
RUNTIME_VARIABLES = (
    "SHIPSHAPE_CLIENT_CONFIG_DIR",
    "SHIPSHAPE_STOREFRONT_API_URL",
    "SHIPSHAPE_AUTH_DOMAIN",
)
# The variables a function only has if its template entry gives them: Shipshape's settings.
# (A Powertools switch set in the process, such as a test turning on event logging, reaches
# every function, as a variable added to Globals would.)
CONFIGURED = ("SHIPSHAPE_",)

Handler = Callable[[Any, Any], Any]

_running = threading.local()


def current_function() -> str | None:
    """The function whose invocation this thread runs, if any."""
    names: list[str] = getattr(_running, "names", [])
    return names[-1] if names else None


class FunctionEnvironments:
    """The functions' own environments and containers, for one embedded stack."""

    def __init__(
        self,
        environment_of: Callable[[str], Mapping[str, str]],
        declared: Callable[[], set[str]],
    ) -> None:
        # Resolved on first use: a function's variables name resources (the state machine's
        # ARN) that exist only once the whole stack is created.
        self._environment_of = environment_of
        self._declared = declared
        self._resolved: dict[str, dict[str, str]] = {}
        self.runtime: dict[str, str] = {}
        # Variables set over a function's entry and the plumbing, as a redeploy with them
        # would set them (a test standing in for a deployed stack's values).
        self.overrides: dict[str, dict[str, str]] = {}
        self._containers: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._original: Any = None

    def environment(self, function_name: str) -> dict[str, str]:
        """What ``function_name`` sees in ``os.environ`` while it runs."""
        own = self._resolved.get(function_name)
        if own is None:
            own = self._resolved[function_name] = dict(self._environment_of(function_name))
        declared = self._declared() | set(RUNTIME_VARIABLES)
        process = {
            k: v
            for k, v in os.environ.items()
            if k not in declared and not k.startswith(CONFIGURED)
        }
        # The plumbing replaces what the entry sets, and adds what no entry could set.
        plumbing = {
            k: v
            for k, v in self.runtime.items()
            if k in RUNTIME_VARIABLES and (k in own or k not in self._declared())
        }
        return process | own | plumbing | self.overrides.get(function_name, {})

    def scoped(self, function_name: str, handler: Handler) -> Handler:
        """``handler`` run with ``function_name``'s environment and container."""

        def run(event: Any, context: Any) -> Any:
            with self.running(function_name):
                return handler(event, context)

        return run

    @contextmanager
    def running(self, function_name: str) -> Iterator[None]:
        saved = dict(os.environ)
        names: list[str] = getattr(_running, "names", None) or []
        _running.names = names
        _replace_environ(self.environment(function_name))
        names.append(function_name)
        try:
            yield
        finally:
            names.pop()
            _replace_environ(saved)

    def install(self) -> None:
        """Route ``shipshape.bootstrap.container()`` to the running function's container.
        Modules bind ``container`` when they are imported (the functions' own modules, and
        any of the layer's or of a test's that import it by name): the router is installed
        once in the process and serves whichever stack is installed."""
        import shipshape.bootstrap as bootstrap

        found: Any = bootstrap.container
        router = found if isinstance(found, _ContainerRouter) else _ContainerRouter(found)
        setattr(bootstrap, "container", router)  # noqa: B010 - typed as the cached function
        router.stacks.append(self)

    def uninstall(self) -> None:
        import shipshape.bootstrap as bootstrap

        router: Any = bootstrap.container
        if isinstance(router, _ContainerRouter) and self in router.stacks:
            router.stacks.remove(self)
        self._containers.clear()

    def container(self, function_name: str, build: Callable[[], Any]) -> Any:
        with self._lock:
            found = self._containers.get(function_name)
            if found is None:
                found = self._containers[function_name] = build()
            return found

    def forget_containers(self) -> None:
        with self._lock:
            self._containers.clear()


class _ContainerRouter:
    """Stands for ``shipshape.bootstrap.container``: inside an invocation, the running
    function's own container; outside, the process's (the cached original)."""

    def __init__(self, original: Any) -> None:
        self.original = original
        self.stacks: list[FunctionEnvironments] = []
        self.__wrapped__ = original.__wrapped__
        self.__doc__ = original.__doc__

    def __call__(self) -> Any:
        name = current_function()
        if name is None or not self.stacks:
            return self.original()
        return self.stacks[-1].container(name, self._build)

    def _build(self) -> Any:
        import shipshape.bootstrap as bootstrap

        built = bootstrap._build()
        overrides = bootstrap._overrides
        return replace(built, **overrides) if overrides else built

    def cache_clear(self) -> None:
        """What ``bootstrap.override`` and ``reset`` call: every container is built again."""
        self.original.cache_clear()
        for stack in self.stacks:
            stack.forget_containers()


def _replace_environ(values: Mapping[str, str]) -> None:
    for name in [n for n in os.environ if n not in values]:
        del os.environ[name]
    for name, value in values.items():
        if os.environ.get(name) != value:
            os.environ[name] = value
