"""Static checks of the infrastructure, run by `make test` (no AWS account needed).

1. template.yaml goes through the SAM transform (samtranslator) and cfn-lint runs on the
   *result*, so mistakes inside Serverless resources are caught too.
2. Every ASL file passes statelint (with ${...} substitutions ignored as URIs).
3. The fulfilment definition is exactly what scripts/asl.py generates (no hand drift).
4. checkov scans template.yaml (SAM read natively) with no unsuppressed failure, and every
   suppression carries its reason in place (Metadata: checkov: skip: ... comment:). checkov
   runs from its own virtualenv (`make static` builds .venv-checkov from
   requirements/checkov.lock): its pins conflict with the project's boto3.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[1]
# The transform resolves pseudo parameters and needs a region; no credentials are used.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


class _NoManagedPolicies:
    """The transform asks IAM for managed-policy ARNs; the template uses none, so stay offline."""

    def load(self) -> dict[str, str]:
        return {}


def check_substitutions(name: str, asl: Path, props: dict) -> None:  # type: ignore[type-arg]
    """Every ${...} in the ASL has a substitution, and every substitution is used."""
    used = set(re.findall(r"\$\{([A-Za-z0-9]+)\}", asl.read_text()))
    given = set(props.get("DefinitionSubstitutions", {}))
    if used - given:
        sys.exit(
            f"{name}: {asl.name} uses ${{{', '.join(sorted(used - given))}}} without a substitution"
        )
    if given - used:
        sys.exit(f"{name}: DefinitionSubstitutions {', '.join(sorted(given - used))} unused")


def sam_transformed() -> dict:  # type: ignore[type-arg]
    template = yaml_parse((ROOT / "template.yaml").read_text())
    for name, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str):
                if not (ROOT / props[key]).is_dir():
                    sys.exit(f"{name}.{key}: {props[key]} does not exist")
                props[key] = f"s3://shipshape-artifacts/{name}.zip"
        if "DefinitionUri" in props:
            # As `sam deploy` ships it: the ASL is an S3 object and the substitutions stay on
            # the resource, where cfn-lint checks each value (a wrong GetAtt fails).
            check_substitutions(name, ROOT / props["DefinitionUri"], props)
            props["DefinitionUri"] = f"s3://shipshape-artifacts/{name}.asl.json"
    return transform(template, {}, _NoManagedPolicies())  # type: ignore[no-any-return]


def run_checkov(checkov: Path) -> bool:
    """checkov on template.yaml, offline: True when nothing fails unsuppressed and every
    suppression gives its reason."""
    if not checkov.is_file():
        print(f"checkov: {checkov} is missing (`make static` installs it in .venv-checkov)")
        return False
    scan = subprocess.run(
        [
            str(checkov),
            "--file", "template.yaml",
            "--framework", "cloudformation",
            "--output", "json",
            # No calls to the vendor's platform (guidelines, severities): the scan is offline.
            "--skip-download",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    try:
        report = json.loads(scan.stdout)
    except json.JSONDecodeError:
        print(f"checkov: did not run (exit {scan.returncode})\n{scan.stdout}{scan.stderr}")
        return False
    summary = report["summary"]
    results = report.get("results", {})
    ok = not summary["failed"] and not summary["parsing_errors"]
    for failed in results.get("failed_checks", []):
        lines = "-".join(str(n) for n in failed["file_line_range"])
        print(
            f"checkov: FAILED {failed['check_id']} {failed['resource']} "
            f"(template.yaml:{lines}): {failed['check_name']}"
        )
    unexplained = 0
    for skipped in results.get("skipped_checks", []):
        reason = (skipped.get("check_result", {}).get("suppress_comment") or "").strip()
        if len(reason) < 40 or reason == "No comment provided":
            print(
                f"checkov: {skipped['check_id']} on {skipped['resource']} is skipped without "
                "a reason: say why in the skip's comment"
            )
            unexplained += 1
    print(
        f"checkov {summary['checkov_version']} on template.yaml: "
        f"Passed checks: {summary['passed']}, Failed checks: {summary['failed']}, "
        f"Skipped checks: {summary['skipped']}"
        + (f" ({unexplained} without a reason)" if unexplained else " (each with its reason)")
    )
    ok = ok and not unexplained
    if summary["parsing_errors"]:
        print(f"checkov: {summary['parsing_errors']} parsing error(s)")
    # checkov exits non-zero exactly when a check failed; anything else is a broken run.
    if bool(scan.returncode) != bool(summary["failed"]):
        print(f"checkov: unexpected exit {scan.returncode}\n{scan.stderr}")
        ok = False
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description="Static checks of template.yaml and the ASL.")
    parser.add_argument(
        "--checkov",
        type=Path,
        default=ROOT / ".venv-checkov" / "bin" / "checkov",
        help="the checkov executable (default: .venv-checkov/bin/checkov)",
    )
    args = parser.parse_args()
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "template.transformed.json"
        out.write_text(json.dumps(sam_transformed(), indent=1))
        print(f"SAM transform: ok ({len(json.loads(out.read_text())['Resources'])} resources)")
        lint = subprocess.run(
            [str(Path(sys.executable).with_name("cfn-lint")), "--format", "parseable", str(out)],
            capture_output=True,
            text=True,
            check=False,
        )
        output = (lint.stdout + lint.stderr).strip()
        if output:
            print(output.replace(str(out), "template.yaml(transformed)"))
        # cfn-lint's exit code is a bitmask: 2 errors, 4 warnings, 8 informational; anything
        # else (1) means it did not run. Only warnings and notes may pass.
        if lint.returncode & ~(4 | 8):
            print(f"cfn-lint: failed (exit {lint.returncode})")
            failures += 1
        else:
            print("cfn-lint on the transformed template: no errors")
    for asl in sorted((ROOT / "statemachine").glob("*.asl.json")):
        result = subprocess.run(
            [str(Path(sys.executable).with_name("statelint")), "--ignore=URI", str(asl)],
            capture_output=True,
            text=True,
            check=False,
        )
        problems = (result.stdout + result.stderr).strip()
        if result.returncode or problems:
            print(f"statelint {asl.name}:\n{problems}")
            failures += 1
        else:
            print(f"statelint {asl.name}: clean")
    generated = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "asl.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    if generated.returncode:
        print(generated.stdout + generated.stderr)
        failures += 1
    else:
        print("fulfillment.asl.json: as scripts/asl.py generates it")
    if not run_checkov(args.checkov):
        failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
