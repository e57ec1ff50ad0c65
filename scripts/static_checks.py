"""Static checks of the infrastructure, run by `make test` (no AWS account needed).

1. template.yaml goes through the SAM transform (samtranslator) and cfn-lint runs on the
   *result*, so mistakes inside Serverless resources are caught too.
2. Every ASL file passes statelint (with ${...} substitutions ignored as URIs).
3. The fulfilment definition is exactly what scripts/asl.py generates (no hand drift).
"""

from __future__ import annotations

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


def main() -> int:
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
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
