"""The test suite's own layout: no test module imports another test module or a conftest.

Shared builders and helpers live in support modules (``tests/builders.py``, ``tests/helpers.py``,
``tests/fakes.py``, ``tests/integration/stack.py``, ``tests/browser/support.py``); a conftest
holds fixtures only. A test module that imports another one runs that module's import-time
code, couples two stories, and makes pytest collect the imported tests' names twice.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]


def _is_test_module(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return last.startswith("test_") or last == "conftest"


def forbidden_imports(source: str) -> list[str]:
    """The modules a source imports that are test modules or conftests, as written."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if _is_test_module(alias.name)]
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            if node.module and _is_test_module(node.module):
                found.append(module)
            else:  # from tests.unit import test_rules, from . import conftest
                found += [
                    f"{module}.{alias.name}".replace("..", ".")
                    for alias in node.names
                    if _is_test_module(alias.name)
                ]
    return found


@pytest.mark.parametrize(
    "source",
    [
        "from tests.integration.test_stock_guard import ACME",
        "from tests.integration.conftest import deliver",
        "from tests.unit import test_escalation",
        "import tests.browser.conftest",
        "from .conftest import LEAD",
        "from . import test_exceptions",
        "def f():\n    from tests.integration.test_exceptions import NO_ZIP\n",
    ],
)
def test_the_check_sees_every_way_to_import_a_test_module(source: str) -> None:
    # Given a source that imports a test module or a conftest, at the top or inside a function
    # When it is checked
    found = forbidden_imports(source)

    # Then the import is reported
    assert len(found) == 1, found


@pytest.mark.parametrize(
    "source",
    [
        "from tests.builders import paid_shopify_order",
        "from tests.integration.stack import deliver",
        "from tests.helpers import load_event",
        "import testing_utils",
        "from shipshape.services import ingest",
    ],
)
def test_the_check_lets_support_modules_through(source: str) -> None:
    # Given a source that imports support modules and the code under test
    # When it is checked
    # Then nothing is reported
    assert forbidden_imports(source) == []


def test_no_module_under_tests_imports_a_test_module_or_a_conftest() -> None:
    # Given every Python module under tests/
    modules = sorted(TESTS.rglob("*.py"))
    assert any(p.name == "conftest.py" for p in modules)

    # When each is parsed
    offenders = {
        str(path.relative_to(TESTS.parent)): found
        for path in modules
        if (found := forbidden_imports(path.read_text(encoding="utf-8")))
    }

    # Then none imports from a test_* module or a conftest: shared code lives in support modules
    assert offenders == {}
