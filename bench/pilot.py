"""Benchmark: the 500-order pilot on the embedded runtime, its wall time against the 60 s
target, and where the time goes.

The pilot runs as `make pilot` runs it, in its own process, sampled by py-spy (100 Hz, only
threads holding the GIL, so waiting threads do not count). Each sample is charged to the layer
of the innermost frame that belongs to one: the emulator (moto), the AWS SDK, Powertools,
pydantic, Shipshape's own code, the pilot. Run with `make bench`. Not a test: absolute times
drift on a shared machine; the shares hold better.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import Figure, run_alone
from rich.console import Console

TARGET_SECONDS = 60.0
ROOT = Path(__file__).resolve().parents[1]
REPORT_DIR = ROOT / "pilot-report" / "bench"

# (layer, path fragments): the first layer whose fragment appears in a frame's file, walking
# from the innermost frame out; frames in none of them (the standard library) are skipped.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("emulator: DynamoDB (moto)", ("/moto/dynamodb/",)),
    ("emulator: Step Functions interpreter (moto)", ("/moto/stepfunctions/", "/antlr4/")),
    ("emulator: request routing and serialization (moto)", ("/moto/", "/werkzeug/")),
    ("JSONPath (moto's Step Functions)", ("/jsonpath_ng/",)),
    ("AWS SDK (botocore, boto3)", ("/botocore/", "/boto3/")),
    ("Powertools", ("/aws_lambda_powertools/",)),
    ("pydantic", ("/pydantic/", "/pydantic_core/")),
    ("Shipshape handlers and services", ("/layers/shipshape/", "/functions/")),
    ("pilot and embedded runtime", ("/local/shipshape_local/",)),
    ("imports", ("<frozen importlib",)),
]


SECTION = "Pilot throughput (the embedded stack, 500 orders)"


def figures(console: Console, orders: int = 500) -> list[Figure]:
    """Run the pilot under py-spy; its wall time, throughput, the floor of its AWS calls and
    where the time goes. The pilot's report (report.json) stays in pilot-report/bench for
    the cost figures."""
    section = SECTION.replace("500", str(orders))
    command = [str(Path(sys.executable).with_name("shipshape")), "pilot",
               "--orders", str(orders), "--out", str(REPORT_DIR)]  # fmt: skip
    samples: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    with tempfile.TemporaryDirectory() as tmp, console.status(f"pilot of {orders} orders"):
        raw = Path(tmp) / "stacks.txt"
        sampled = spy is not None
        if sampled:
            profiled = [spy, "record", "--rate", "100", "--gil", "--threads",
                        "--full-filenames", "--format", "raw", "--output", str(raw),
                        "--", *command]  # fmt: skip
            done = subprocess.run(profiled, cwd=ROOT, stdout=subprocess.DEVNULL, check=False)  # noqa: S603 - our own command line
            sampled = done.returncode == 0 and raw.exists()
            if not sampled:
                console.print("[yellow]py-spy could not sample here; timing only[/yellow]")
        if not sampled:
            subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, check=False)  # noqa: S603 - our own command line
        if sampled:
            _charge(raw.read_text(), samples, functions)
    report = json.loads((REPORT_DIR / "report.json").read_text())
    wall = float(report["wall_seconds"])
    target = TARGET_SECONDS * orders / 500
    out = [
        Figure(section, "wall time, stack start to last order settled"
               + (" (sampled by py-spy: about a third slower)" if samples else ""),
               f"{wall:.1f} s", f"{target:.0f} s (issue 6's target)", wall / target,
               wall <= target),
        Figure(section, "throughput", f"{orders / wall:.2f} orders/s",
               f"{orders / target:.2f} orders/s"),
        Figure(section, "orders unaccounted for", str(len(report["unaccounted"])), "0", None,
               not report["unaccounted"]),
    ]  # fmt: skip
    calls = report.get("load", {}).get("aws_calls", {})
    if calls:
        costs = _call_costs()
        cheapest = min(costs.values())
        floor = sum(n * costs.get(call, cheapest) for call, n in calls.items())
        out.append(Figure(
            section, f"floor: its {sum(calls.values()):,} AWS calls alone, each at its median "
            "emulator cost", f"{floor:.1f} s", f"{wall:.1f} s wall", floor / wall, None,
        ))  # fmt: skip
        for call, n in sorted(calls.items(), key=lambda c: -c[1] * costs.get(c[0], cheapest))[:4]:
            cost = costs.get(call, cheapest)
            out.append(Figure(section, f"  {call}: {n:,} calls x {cost * 1000:.2f} ms",
                              f"{n * cost:.1f} s"))  # fmt: skip
    if samples:
        total = sum(samples.values())
        for layer, count in samples.most_common(6):
            out.append(Figure(section, f"profile: {layer}", f"{count / total:.1%}"))
        for function, count in functions.most_common(3):
            out.append(Figure(section, f"busiest: {function}", f"{count / total:.1%}"))
    return out


STRICTNESS_SECTION = "The emulator no kinder than AWS (roles, limits, contention)"
STRICTNESS_LIMIT = 1.10  # issue 23: the stricter emulator may cost the pilot at most 10 %


def strictness_figures(console: Console, orders: int = 100, rounds: int = 2) -> list[Figure]:
    """The pilot on the embedded stack as it runs (each function's role checked on every
    call, AWS's limits held, transactions colliding) against the same pilot on moto's
    leniency alone (``--lenient-emulator``), alternately, the best of each: what the
    strictness costs the pilot's wall time."""
    walls: dict[bool, list[float]] = {True: [], False: []}
    with (
        tempfile.TemporaryDirectory() as tmp,
        console.status(f"pilot of {orders} orders, strict and lenient emulator, {rounds} rounds"),
    ):
        for _ in range(rounds):
            for strict in (False, True):
                out = Path(tmp) / ("strict" if strict else "lenient")
                command = [str(Path(sys.executable).with_name("shipshape")), "pilot",
                           "--orders", str(orders), "--out", str(out),
                           *([] if strict else ["--lenient-emulator"])]  # fmt: skip
                subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, check=False)  # noqa: S603 - our own command line
                report = json.loads((out / "report.json").read_text())
                walls[strict].append(float(report["wall_seconds"]))
    strict, lenient = min(walls[True]), min(walls[False])
    return [
        Figure(STRICTNESS_SECTION, f"pilot of {orders} orders, strict (best of {rounds})",
               f"{strict:.1f} s", f"{lenient:.1f} s lenient x {STRICTNESS_LIMIT:g}",
               strict / lenient, strict / lenient <= STRICTNESS_LIMIT),
    ]  # fmt: skip


def main() -> int:
    return run_alone(lambda orders: f"Shipshape pilot benchmark ({orders} orders)", figures, 500)


def _call_costs(repeat: int = 300) -> dict[str, float]:
    """Median seconds per call on the embedded emulator (with the runtime's own patches) for
    the calls a pilot makes most: single-item DynamoDB reads and writes, a two-item
    transaction like an order change with its audit event, a partition query, and a Lambda
    invocation of a handler that does nothing."""
    import statistics

    import boto3

    from shipshape_local.runtime import REGION, EmbeddedRuntime

    with EmbeddedRuntime() as rt:
        table = rt.names["OrdersTable"]
        ddb = boto3.client("dynamodb", region_name=REGION)
        lam = boto3.client("lambda", region_name=REGION)
        rt.lambdas.register("shipshape-BenchNothing", lambda event, context: {})
        role = boto3.client("iam", region_name=REGION).get_role(RoleName="shipshape-embedded")
        lam.create_function(FunctionName="shipshape-BenchNothing", Runtime="python3.12",
                            Role=role["Role"]["Arn"], Handler="app.handler",
                            Code={"ZipFile": _empty_zip()})  # fmt: skip
        doc = {"S": json.dumps({"status": "RECEIVED", "lines": [{"sku": "MUG", "qty": 1}] * 3})}

        def item(n: int, sk: str = "ORDER") -> dict[str, Any]:
            return {"pk": {"S": f"ORDER#bench-{n}"}, "sk": {"S": sk}, "doc": doc}

        for n in range(200):
            ddb.put_item(TableName=table, Item=item(n))
        key = {"pk": {"S": "ORDER#bench-7"}, "sk": {"S": "ORDER"}}
        counter = iter(range(10**6))
        calls: dict[str, Callable[[], Any]] = {
            "dynamodb.GetItem": lambda: ddb.get_item(TableName=table, Key=key, ConsistentRead=True),
            "dynamodb.PutItem": lambda: ddb.put_item(TableName=table, Item=item(7)),
            "dynamodb.UpdateItem": lambda: ddb.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET doc = :d",
                ExpressionAttributeValues={":d": doc},
            ),
            "dynamodb.Query": lambda: ddb.query(
                TableName=table,
                KeyConditionExpression="pk = :p",
                ExpressionAttributeValues={":p": {"S": "ORDER#bench-7"}},
            ),
            "dynamodb.BatchGetItem": lambda: ddb.batch_get_item(
                RequestItems={table: {"Keys": [key]}}
            ),
            "dynamodb.TransactWriteItems": lambda: ddb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": table,
                            "Item": item(7),
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                    {"Put": {"TableName": table, "Item": item(7, f"AUDIT#{next(counter):08d}")}},
                ]
            ),
            "lambda.Invoke": lambda: lam.invoke(
                FunctionName="shipshape-BenchNothing", Payload=b"{}"
            ),
        }
        costs: dict[str, float] = {}
        for name, call in calls.items():
            timings = []
            for _ in range(repeat):
                started = time.perf_counter()
                call()
                timings.append(time.perf_counter() - started)
            costs[name] = statistics.median(timings)
        return costs


def _empty_zip() -> bytes:
    import io
    import zipfile

    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as zf:
        zf.writestr("app.py", "")
    return package.getvalue()


def _charge(stacks: str, samples: Counter[str], functions: Counter[str]) -> None:
    """Charge each sampled stack (py-spy's raw format: frames root first, then a count) to
    its layer, and its innermost frame to its function."""
    for line in stacks.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")[1:]  # the first is the thread
        if not frames:
            continue
        functions[_short(frames[-1])] += int(count)
        samples[_layer(frames)] += int(count)


def _layer(frames: list[str]) -> str:
    for frame in reversed(frames):
        for layer, fragments in LAYERS:
            if any(fragment in frame for fragment in fragments):
                return layer
    return "standard library"


def _short(frame: str) -> str:
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    path = path.removeprefix(f"{ROOT}/")
    for marker in ("site-packages/", f"python{sys.version_info[0]}.{sys.version_info[1]}/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"


if __name__ == "__main__":
    sys.exit(main())
