"""Benchmark: each function's cold start against the floor of boto3 and its clients.

What Lambda's INIT does, in a fresh process laid out as Lambda lays it out: the function's
code in /var/task, the shared layer in /opt/python (built by the same recipe `sam build` runs,
layers/shipshape/Makefile), the runtime's boto3 apart, nothing else importable (`python -S`),
and no bytecode written back (Lambda's file systems are read-only). The process imports the
handler module and builds what the first request would otherwise build: the container of
adapters (`shipshape.bootstrap.container()`) and the clients of the services its IAM policy
names (template.yaml). The floor is a process, laid out the same way, that imports boto3 and
creates those same clients, nothing else.

Two builds of the layer are measured: as shipped (hash-based .pyc, used as they are) and as a
plain build would ship on Lambda, where the zip's fixed 1980 timestamps make every
timestamp-checked .pyc stale, so each cold start compiles the layer from source.

Run alone with `.venv/bin/python bench/coldstart.py [runs]`; `make bench` includes it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import Figure, median, ratio_figure, run_alone
from rich.console import Console

from shipshape_local.template import REPO_ROOT, Template

SECTION = "Cold start (fresh process, median)"
LIMIT = 1.5
ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z, the timestamp SAM's zips give every file
# Services whose clients a function's code creates, by IAM action prefix (kms, logs and
# xray are used by AWS on the function's behalf, not through a client in the code).
# (sqs is not one: the publisher's on-failure queue is sent to by Lambda with its role.)
CLIENT_SERVICES = {"dynamodb": "dynamodb", "states": "stepfunctions", "sns": "sns",
                   "secretsmanager": "secretsmanager", "events": "events"}  # fmt: skip

# SAM policy templates the template uses, by the service they grant.
SAM_POLICY_TEMPLATES = {"SNSPublishMessagePolicy": "sns"}

INIT = """
import sys
sys.path[:0] = {paths!r}
import importlib
module = importlib.import_module({module!r})
from shipshape.bootstrap import aws_client, container
deps = container()
for service in {services!r}:
    aws_client(service)
if "secretsmanager" in {services!r}:
    deps.secrets._provider  # the Powertools provider over that client
"""

FLOOR = """
import sys
sys.path[:0] = {paths!r}
import boto3
for service in {services!r}:
    boto3.client(service)
"""


def python312() -> str:
    """The interpreter to measure with: the benchmark's own (make bench runs .venv's 3.12)."""
    base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    return str(base if base.exists() else sys.executable)


def services_of(template: Template, logical_id: str) -> list[str]:
    props = template.resources[logical_id]["Properties"]
    found: set[str] = set()
    for policy in props.get("Policies", []):
        for template_name in policy if isinstance(policy, dict) else []:
            if template_name in SAM_POLICY_TEMPLATES:  # e.g. SNSPublishMessagePolicy
                found.add(SAM_POLICY_TEMPLATES[template_name])
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            actions = statement.get("Action", [])
            for action in [actions] if isinstance(actions, str) else actions:
                prefix = str(action).split(":", 1)[0]
                if prefix in CLIENT_SERVICES:
                    found.add(CLIENT_SERVICES[prefix])
    return sorted(found)


def build(root: Path, python: str) -> dict[str, Path]:
    """The runtime's boto3, and the layer twice: as shipped and with stale bytecode."""
    lock = (REPO_ROOT / "requirements" / "dev.lock").read_text()
    pins = [p for p in re.findall(r"^(\S+==\S+)", lock, re.M)
            if p.split("==")[0] in ("boto3", "botocore", "s3transfer", "jmespath", "urllib3",
                                    "python-dateutil", "six")]  # fmt: skip
    runtime = root / "runtime"
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    _run([*pip, "--target", str(runtime), *pins])
    shipped = root / "shipped"
    _run(["make", "--no-print-directory", "-C", str(REPO_ROOT / "layers" / "shipshape"),
          "build-SharedLayer", f"ARTIFACTS_DIR={shipped}", f"PYTHON={python}"])  # fmt: skip
    stale = root / "stale"
    shutil.copytree(shipped, stale, ignore=shutil.ignore_patterns("__pycache__"))
    _run([python, "-m", "compileall", "-q", "-j", "0", str(stale)])  # timestamp-checked .pyc
    for directory, _, files in os.walk(stale):  # what the zip does to every file
        for name in files:
            os.utime(Path(directory) / name, (ZIP_EPOCH, ZIP_EPOCH))
    return {"runtime": runtime, "shipped": shipped / "python", "stale": stale / "python"}


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True)  # noqa: S603 - our own commands
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])} failed:\n{done.stderr[-3000:]}")


def environment(template: Template, logical_id: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench", "AWS_LAMBDA_FUNCTION_NAME": f"shipshape-{logical_id}",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512", "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "SHIPSHAPE_CLIENT_CONFIG_DIR": str(REPO_ROOT / "config"),
    }  # fmt: skip
    variables = {**template.global_environment, **template.functions[logical_id].environment}
    for name, value in variables.items():
        if isinstance(value, str):
            env[name] = value
        elif isinstance(value, dict) and template.parameter_default(value.get("Ref", "")):
            env[name] = str(template.parameter_default(value["Ref"]))
        elif name.endswith("_ARN"):
            env[name] = f"arn:aws:sns:us-east-1:123456789012:shipshape-bench-{name.lower()}"
            if "STATE_MACHINE" in name:
                env[name] = "arn:aws:states:us-east-1:123456789012:stateMachine:shipshape-bench"
        else:
            env[name] = f"shipshape-bench-{name.lower()}"
    return env


def timed(python: str, code: str, env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own interpreter and code
        [python, "-S", "-c", code], env=env, cwd=cwd, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"cold start failed:\n{done.stderr[-2000:]}")
    return elapsed * 1000


def measure(runs: int = 7, console: Console | None = None) -> list[dict[str, Any]]:
    console = console or Console()
    template = Template()
    python = python312()
    rows = []
    with tempfile.TemporaryDirectory(prefix="shipshape-coldstart-") as tmp:
        root = Path(tmp)
        with console.status("building the layer as sam build does"):
            built = build(root, python)
        for logical_id, spec in sorted(template.functions.items()):
            task = root / "task" / logical_id
            shutil.copytree(spec.code_uri, task, ignore=shutil.ignore_patterns("__pycache__"))
            module = spec.handler.rsplit(".", 1)[0]
            services = services_of(template, logical_id)
            env = environment(template, logical_id)
            runtime = str(built["runtime"])
            codes = {
                "floor": FLOOR.format(paths=[runtime], services=services),
                **{
                    variant: INIT.format(
                        paths=[str(task), str(built[variant]), runtime],
                        module=module,
                        services=services,
                    )
                    for variant in ("shipped", "stale")
                },
            }
            timings: dict[str, list[float]] = {name: [] for name in codes}
            with console.status(f"{logical_id}: {runs} cold starts of each kind"):
                for _ in range(runs):  # interleaved, so drift hits all three alike
                    for name, code in codes.items():
                        timings[name].append(timed(python, code, env, task))
            rows.append({"function": logical_id, "services": services,
                         **{name: median(values) for name, values in timings.items()}})  # fmt: skip
    return rows


def figures(console: Console, runs: int = 7) -> list[Figure]:
    out = []
    for row in measure(runs, console):
        name = row["function"].removesuffix("Function")
        clients = ", ".join(row["services"])
        out.append(ratio_figure(SECTION, f"{name} (floor: boto3 + {clients})",
                                row["shipped"], row["floor"], "ms", LIMIT))  # fmt: skip
        out.append(Figure(
            SECTION, f"{name}, without usable bytecode (stale .pyc, as a plain build ships)",
            f"{row['stale']:.1f} ms", f"{row['shipped']:.1f} ms shipped",
            row["stale"] / row["shipped"], None,
        ))  # fmt: skip
    return out


def main() -> int:
    return run_alone(lambda runs: f"Shipshape cold starts ({runs} runs each)", figures, 7)


if __name__ == "__main__":
    sys.exit(main())
