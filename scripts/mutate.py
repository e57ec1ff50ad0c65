"""Mutation testing of the code that guards money, stock, access and privacy: `make mutate`.

mutmut (pinned in requirements/dev.lock) plants one small bug at a time (a flipped comparison,
a dropped condition, a changed constant) in each target below and runs the tests that reach
the mutated function; a mutant the tests do not notice "survived". It was chosen over
cosmic-ray because it compiles every mutant into the code once and forks a worker per mutant
from a warmed-up process, and it records which tests reach which function, so each mutant runs
only those tests: minutes on two cores, where a process per mutant would take hours.

mutmut names modules by their path under ``src/``, so each session runs in a staging copy of
the tree under ``.mutate/<session>/`` laid out that way: ``src/shipshape``,
``src/shipshape_local`` and everything the tests read (the template, functions, the ASL,
config, events, docs). A session is one target, or a batch of targets that share their tests
(``BATCHES``). The working tree is never changed.

A target passes when at least 90 % of its mutants are killed (a timeout counts as killed: the
tests noticed). Mutants that no test can kill, because the program behaves the same either way,
are listed in ``tests/mutation/equivalent/<target>.toml`` with the reason, and left out of the
rate. Each target's tests are globs, so a test file named for the behaviour it covers joins
its target by its name.

    .venv/bin/python scripts/mutate.py                 # every target; report in mutation-report/
    .venv/bin/python scripts/mutate.py masking sla     # some targets
    .venv/bin/python scripts/mutate.py --list          # the targets, their code and their tests
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGE = ROOT / ".mutate"
# One file a target: "<mutant name>" = "why no test can tell it from the original".
EQUIVALENT = ROOT / "tests" / "mutation" / "equivalent"
BAR = 0.90
# What the tests read, where they look for it: REPO_ROOT is two levels above shipshape_local,
# and some tests read data files (the seed, the dashboard's assets) under layers/ and local/.
COPIED = [
    "functions", "statemachine", "config", "events", "docs", "schemas", "tests", "layers",
    "local", "scripts", "template.yaml", "samconfig.toml",
]  # fmt: skip
SOURCES = {"shipshape": "layers/shipshape/shipshape", "shipshape_local": "local/shipshape_local"}
# mutmut's exit codes (mutmut/stats.py), as this report counts them.
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped",
          36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout", 255: "timeout",
          37: "killed", None: "not checked"}  # fmt: skip


@dataclass(frozen=True)
class Target:
    """Code to mutate (module path and function globs in mutmut's naming) and its tests."""

    name: str
    what: str
    module: str  # e.g. shipshape.storefronts.shopify
    functions: tuple[str, ...]  # globs of mutmut's function names, e.g. "xǁShopifyAdapterǁverify"
    tests: tuple[str, ...]

    @property
    def file(self) -> str:
        package, _, rest = self.module.partition(".")
        return f"{SOURCES[package]}/{rest.replace('.', '/')}.py"

    @property
    def globs(self) -> list[str]:
        return [f"{self.module}.{f}__mutmut_*" for f in self.functions]


def _method(cls: str, *names: str) -> tuple[str, ...]:
    return tuple(f"xǁ{cls}ǁ{name}" for name in names)


def _functions(*names: str) -> tuple[str, ...]:
    return tuple(f"x_{name}" for name in names)


STOREFRONT_TESTS = (
    "tests/unit/test_properties_storefronts.py", "tests/unit/test_storefront_contract.py",
)  # fmt: skip
# The unit tests of every authorization decision; the probing tests (tests/integration/
# test_probing.py) ask the same questions over HTTP in make test, and add nothing the unit
# tests do not kill (measured: 233 mutants, 100 % killed either way, in 55 s instead of 322 s).
AUTHZ_TESTS = ("tests/*/test_authorization*.py",)
TARGETS = [
    Target("shopify", "Shopify webhook verification", "shipshape.storefronts.shopify",
           _method("ShopifyAdapter", "verify", "claimed_store"),
           ("tests/unit/test_storefront_shopify*.py", *STOREFRONT_TESTS)),
    Target("woocommerce", "WooCommerce webhook verification", "shipshape.storefronts.woocommerce",
           _method("WooCommerceAdapter", "verify", "claimed_store") + _functions("_reject_ping"),
           ("tests/unit/test_storefront_woocommerce*.py", *STOREFRONT_TESTS)),
    Target("bigcommerce", "BigCommerce webhook verification", "shipshape.storefronts.bigcommerce",
           _method("BigCommerceAdapter", "verify", "claimed_store")
           + _functions("_token_matches", "_store_hash"),
           ("tests/unit/test_storefront_bigcommerce*.py", *STOREFRONT_TESTS)),
    Target("generic", "Generic webhook verification", "shipshape.storefronts.generic",
           _method("GenericAdapter", "verify", "claimed_store")
           + _functions("_parse_signature_header"),
           ("tests/unit/test_storefront_generic*.py", *STOREFRONT_TESTS)),
    Target("ingest", "Ingest ordering and dedupe", "shipshape.services.ingest",
           _functions("ingest_version", "_record_version", "_update"),
           ("tests/unit/test_ingest*.py",)),
    Target("inventory", "Inventory reservation and release", "shipshape.services.inventory",
           ("x_*", "xǁ*"), ("tests/unit/test_inventory*.py", "tests/unit/test_fulfillment_steps.py",
                            "tests/unit/test_large_orders.py")),
    Target("stock-conditions", "Stock conditions in DynamoDB",
           "shipshape.adapters.dynamodb.inventory",
           _method("DynamoDBInventory", "receive_stock", "_receive_once", "stock_of"),
           ("tests/integration/test_stock_guard*.py",)),
    Target("transaction", "The one-transaction write", "shipshape.adapters.dynamodb.orders",
           _method("DynamoDBOrderStore", "create", "apply", "_transact", "write_exception"),
           ("tests/integration/test_stock_guard*.py",
            "tests/integration/test_one_transaction*.py")),
    Target("items", "The items a write puts, and the stock conditions on them",
           "shipshape.adapters.dynamodb.items",
           _functions("side_write", "stock_lot", "backorder_key", "order_item", "audit_item",
                      "exception_item", "order_doc", "order_from"),
           ("tests/integration/test_stock_guard*.py",
            "tests/integration/test_one_transaction*.py")),
    Target("sla", "The SLA clock (business hours)", "shipshape.sla",
           ("x_*", "xǁBusinessCalendarǁ*"), ("tests/unit/test_sla*.py",)),
    Target("escalation", "Escalation of overdue exceptions", "shipshape.services.escalation",
           ("x_*", "xǁ*"), ("tests/unit/test_escalation*.py",)),
    Target("authz-claims", "Authorization: the operator a request's claims name",
           "shipshape.http", _functions("operator_from_claims"), AUTHZ_TESTS),
    Target("authz", "Authorization: scope, then role, for every read and change",
           "shipshape.authorization", ("xǁOperatorǁ*", "x_*"),
           (*AUTHZ_TESTS, "tests/unit/test_operator_scope_template.py")),
    Target("authz-away", "Authorization: marking people away", "shipshape.services.away",
           _functions("mark_away"), AUTHZ_TESTS),
    Target("audit-completeness", "The audit-completeness check", "shipshape.services.checklist",
           _functions("trail_problems", "_audit_sample"),
           ("tests/unit/test_governance_and_metrics.py", "tests/unit/test_audit_completeness*.py")),
    Target("masking", "Log masking", "shipshape.masking", ("x_*", "xǁ*"),
           ("tests/unit/test_log_masking*.py", "tests/integration/test_log_masking*.py")),
]  # fmt: skip
BY_NAME = {t.name: t for t in TARGETS}
# Targets staged and run as one mutmut session: one copy of the tree, one pass that records
# which tests reach which function, then every mutant of the batch. Each session costs about
# 50 s before its first mutant, so targets that share their tests share a session; each
# mutant still runs only the tests that reach its function.
BATCHES = {
    "storefronts": ("shopify", "woocommerce", "bigcommerce", "generic"),
    "authorization": ("authz-claims", "authz", "authz-away"),
    "dynamodb": ("stock-conditions", "transaction", "items"),
}  # fmt: skip
BATCH_OF = {name: batch for batch, names in BATCHES.items() for name in names}


@dataclass
class Result:
    target: Target
    statuses: dict[str, str] = field(default_factory=dict)  # mutant -> status
    equivalent: dict[str, str] = field(default_factory=dict)  # mutant -> why
    survivors: list[dict[str, object]] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, *statuses: str) -> int:
        return sum(
            1 for m, s in self.statuses.items() if s in statuses and m not in self.equivalent
        )

    @property
    def counted(self) -> int:
        return len([m for m in self.statuses if m not in self.equivalent])

    @property
    def rate(self) -> float:
        return self.count("killed", "timeout") / self.counted if self.counted else 1.0


def _stage(name: str, targets: list[Target]) -> Path:
    """A copy of the tree laid out as mutmut expects, with its configuration."""
    stage = STAGE / name
    shutil.rmtree(stage, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    for package, path in SOURCES.items():
        shutil.copytree(ROOT / path, stage / "src" / package, ignore=ignore)
    files = sorted({f"src/{t.module.replace('.', '/')}.py" for t in targets})
    for file in files:
        mutated = stage / file
        mutated.write_text(_log_calls_unmutated(mutated.read_text()))
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, stage / name, ignore=ignore)
        elif source.exists():
            shutil.copy2(source, stage / name)
    tests = sorted(
        {str(p.relative_to(ROOT)) for t in targets for g in t.tests for p in ROOT.glob(g)}
    )
    config = {
        "source_paths": ["src"],
        "only_mutate": files,
        # -s: the Logger's stream is process-wide; pytest's capture would close it under the
        # next session that mutmut runs in the same process.
        "pytest_add_cli_args": ["-s", "-p", "no:randomly", "-p", "no:cacheprovider", "-q"],
        "pytest_add_cli_args_test_selection": tests,
        "also_copy": ["src", *COPIED],
        "process_isolation": "forkserver",
        "use_git_change_detection": False,
    }
    pytest_ini = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]
    (stage / "pyproject.toml").write_text(
        "[tool.pytest.ini_options]\n"
        + "".join(f"{k} = {json.dumps(v)}\n" for k, v in pytest_ini["ini_options"].items())
        + "\n[tool.mutmut]\n"
        + "".join(f"{k} = {json.dumps(v)}\n" for k, v in config.items())
    )
    return stage


def _log_calls_unmutated(source: str) -> str:
    """The source with every line of a ``logger.<level>(...)`` call marked ``# pragma: no
    mutate`` (in the staging copy only). A log line's wording is not behaviour; what a log
    line must not carry is the masking target's to test. Line numbers stay as they are."""
    lines = source.splitlines()
    marked: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "logger"
            and node.end_lineno is not None
        ):
            marked.update(range(node.lineno - 1, node.end_lineno))
    strings = {  # lines inside a multi-line string cannot take a comment
        n for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        and node.end_lineno is not None and node.end_lineno > node.lineno
        for n in range(node.lineno - 1, node.end_lineno - 1)
    }  # fmt: skip
    for n in sorted(marked - strings):
        if "#" not in lines[n]:
            lines[n] += "  # pragma: no mutate"
    return "\n".join(lines) + "\n"


def _mutmut(stage: Path, *args: str, log: Path | None = None) -> str:
    mutmut = Path(sys.executable).with_name("mutmut")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "TERM": "dumb"}
    with open(log, "w") if log else open(os.devnull, "w") as sink:
        done = subprocess.run(
            [str(mutmut), *args], cwd=stage, env=env, text=True, check=False,
            stdout=subprocess.PIPE if log is None else sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    return done.stdout or ""


def _statuses(stage: Path, target: Target) -> dict[str, str]:
    meta = stage / "mutants" / "src" / (target.module.replace(".", "/") + ".py.meta")
    if not meta.exists():
        return {}
    codes = json.loads(meta.read_text())["exit_code_by_key"]
    prefixes = [re.compile(_glob_regex(g)) for g in target.globs]
    return {
        key: STATUS.get(code, "suspicious")
        for key, code in codes.items()
        if any(p.fullmatch(key) for p in prefixes)
    }


def _glob_regex(glob: str) -> str:
    return ".*".join(re.escape(part) for part in glob.split("*"))


def _def_lines(path: Path) -> dict[str, int]:
    """mutmut's function name (x_f, xǁClassǁf) -> the line its def starts on."""
    lines: dict[str, int] = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines[f"x_{node.name}"] = node.lineno
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    lines[f"xǁ{node.name}ǁ{item.name}"] = item.lineno
    return lines


def _survivor(stage: Path, target: Target, mutant: str, defs: dict[str, int]) -> dict[str, object]:
    diff = _mutmut(stage, "show", mutant).split("\n", 1)[-1].strip()
    function = mutant.removeprefix(target.module + ".").rsplit("__mutmut_", 1)[0]
    line = defs.get(function, 0)
    hunk = re.search(r"@@ -(\d+)", diff)
    if hunk and line:
        body = diff[hunk.end() :].splitlines()[1:]
        changed = next((i for i, text in enumerate(body) if text.startswith("-")), 0)
        line += int(hunk.group(1)) - 1 + changed
    return {"mutant": mutant, "file": target.file, "line": line, "diff": diff}


def run(
    name: str, targets: list[Target], equivalent: dict[str, dict[str, str]], max_children: int
) -> list[Result]:
    """One mutmut session over ``targets`` (a batch, or one target alone); a result each. A
    target's time is its share of the session's, by its number of mutants."""
    started = time.perf_counter()
    stage = _stage(name, targets)
    log = STAGE / f"{name}.log"
    globs = [g for t in targets for g in t.globs]
    _mutmut(stage, "run", "--max-children", str(max_children), *globs, log=log)
    results = []
    for target in targets:
        result = Result(target, _statuses(stage, target))
        if not result.statuses:
            sys.exit(f"{target.name}: mutmut produced no results; see {log}")
        known = equivalent.get(target.name, {})
        # A mutant's number moves when its function's code changes: one listed as equivalent
        # that the tests now kill is a stale entry, counted as killed and named.
        stale = [m for m in known if result.statuses.get(m) in ("killed", "timeout")]
        for mutant in stale:
            print(f"    stale equivalent (now killed): {mutant}", flush=True)
        result.equivalent = {
            m: why for m, why in known.items() if m in result.statuses and m not in stale
        }
        defs = _def_lines(ROOT / target.file)
        result.survivors = [
            _survivor(stage, target, m, defs)
            for m, s in sorted(result.statuses.items())
            if s in ("survived", "no tests", "suspicious", "not checked")
            and m not in result.equivalent
        ]
        results.append(result)
    seconds = time.perf_counter() - started
    total = sum(len(r.statuses) for r in results)
    for result in results:
        result.seconds = seconds * len(result.statuses) / total
    return results


def report(results: list[Result], out: Path, seconds: float) -> str:
    out.mkdir(parents=True, exist_ok=True)
    head = "| target | code | mutants | killed | survived | equivalent | kill rate | time* |"
    rows = [head, "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        rows.append(
            f"| {r.target.name} | {r.target.what} (`{r.target.file}`) | {r.counted} "
            f"| {r.count('killed', 'timeout')} | {len(r.survivors)} | {len(r.equivalent)} "
            f"| {r.rate:.0%}{'' if r.rate >= BAR else ' ✗'} | {r.seconds:.0f} s |"
        )
    lines = [
        "# Mutation testing", "",
        f"`make mutate`: {len(results)} targets in {seconds:.0f} s; the bar is {BAR:.0%} killed "
        "per target (timeouts count as killed; equivalent mutants are left out).", "",
        *rows, "",
        "\\* a target's share of its session's time, by its number of mutants (targets that "
        "share their tests run in one session).", "",
    ]  # fmt: skip
    for r in results:
        if r.survivors:
            lines += [f"## Survivors in {r.target.name}", ""]
            for s in r.survivors:
                lines += [f"### {s['file']}:{s['line']} `{s['mutant']}`", "```diff", str(s["diff"]),
                          "```", ""]  # fmt: skip
        if r.equivalent:
            lines += [f"## Equivalent mutants in {r.target.name}", ""]
            lines += [f"- `{m}`: {why}" for m, why in sorted(r.equivalent.items())] + [""]
    text = "\n".join(lines)
    (out / "report.md").write_text(text)
    (out / "report.json").write_text(json.dumps([
        {"target": r.target.name, "file": r.target.file, "mutants": r.counted,
         "killed": r.count("killed", "timeout"), "survived": len(r.survivors),
         "equivalent": len(r.equivalent), "kill_rate": round(r.rate, 4),
         "seconds": round(r.seconds, 1), "survivors": r.survivors,
         "statuses": dict(Counter(r.statuses.values()))}
        for r in results
    ], indent=1))  # fmt: skip
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("targets", nargs="*", help="target names (default: all)")
    parser.add_argument("--list", action="store_true", help="list the targets and stop")
    parser.add_argument("--out", type=Path, default=ROOT / "mutation-report")
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    if args.list:
        for t in TARGETS:
            print(f"{t.name:20} {t.file}  {', '.join(t.functions)}")
            print(f"{'':20} tests: {', '.join(t.tests)}")
        return 0
    unknown = [n for n in args.targets if n not in BY_NAME]
    if unknown:
        parser.error(f"unknown target(s) {', '.join(unknown)}; see --list")
    chosen = [BY_NAME[n] for n in args.targets] if args.targets else TARGETS
    sessions: dict[str, list[Target]] = {}
    for target in chosen:
        sessions.setdefault(BATCH_OF.get(target.name, target.name), []).append(target)
    started = time.perf_counter()
    results = []
    for number, (name, targets) in enumerate(sessions.items(), 1):
        names = ", ".join(t.name for t in targets)
        print(f"[{number}/{len(sessions)}] {name}: {names}", flush=True)
        equivalent = {
            t.name: tomllib.loads(known.read_text())
            for t in targets
            if (known := EQUIVALENT / f"{t.name}.toml").exists()
        }
        for result in run(name, targets, equivalent, args.max_children):
            print(f"    {result.target.name}: {result.counted} mutants, {result.rate:.0%} "
                  f"killed, {len(result.survivors)} survived", flush=True)  # fmt: skip
            results.append(result)
        print(f"    ({time.perf_counter() - started:.0f} s so far)", flush=True)
    print(report(results, args.out, time.perf_counter() - started))
    for r in results:
        for s in r.survivors:
            print(f"survived: {s['file']}:{s['line']} {s['mutant']}")
    print(f"report: {args.out / 'report.md'}")
    failed = [r.target.name for r in results if r.rate < BAR]
    if failed:
        print(f"below {BAR:.0%}: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
