"""The shared layer as `sam build` builds it (layers/shipshape/Makefile): only wheels for
Lambda's platform, exactly the locked packages, nothing of the local tooling, and the same bytes
from two builds.

The template runs the functions on python3.12 and ``Architectures: [x86_64]``; Lambda's
python3.12 runtime is Amazon Linux 2023 on x86-64. An extension module built for the build
machine instead (a macOS ``.so``, an aarch64 one) would install without complaint and fail
only at import on Lambda, which is what the platform check below catches.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from shipshape_local.template import REPO_ROOT, Template

LAYER = REPO_ROOT / "layers" / "shipshape"
ELF_MAGIC = b"\x7fELF"
ELFCLASS64 = 2
EM_X86_64 = 0x3E  # e_machine of x86-64 (System V ABI)
LOCAL_TOOLING = {"moto", "pytest", "hypothesis", "playwright", "mutmut", "boto3", "botocore"}


def _build(artifacts: Path) -> Path:
    done = subprocess.run(  # noqa: S603 - our own Makefile
        ["make", "--no-print-directory", "-C", str(LAYER), "build-SharedLayer",  # noqa: S607
         f"ARTIFACTS_DIR={artifacts}", f"PYTHON={sys.executable}"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return artifacts / "python"


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(path: Path) -> dict[str, str]:
    """A requirements file's exact pins, by normalized name."""
    text = path.read_text()
    return {_normalized(m[1]): m[2] for m in re.finditer(r"^([A-Za-z0-9_.-]+)==(\S+)", text, re.M)}


def _locked() -> dict[str, str]:
    return _pins(LAYER / "requirements.lock")


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory.mktemp("layer-a"))


def test_the_lock_pins_every_package_with_hashes() -> None:
    # Given the layer's lock, as pip-tools writes it from requirements.txt
    text = (LAYER / "requirements.lock").read_text()
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    entries = re.split(r"\n(?=[A-Za-z0-9])", body.strip())

    # Then every entry is an exact pin with at least one sha256, and every top-level
    # requirement is in it at the version requirements.txt pins
    for entry in entries:
        assert re.match(r"^[A-Za-z0-9_.-]+==\S+ \\\n", entry), entry[:80]
        assert "--hash=sha256:" in entry, entry[:80]
    wanted = _pins(LAYER / "requirements.txt")
    locked = _locked()
    for name, version in wanted.items():
        assert locked.get(name) == version, name


def test_the_layer_holds_exactly_the_locked_packages(layer: Path) -> None:
    # Given the built layer's installed distributions
    installed = {
        _normalized(m[1]): m[2]
        for d in layer.glob("*.dist-info")
        if (m := re.match(r"(.+)-([^-]+)\.dist-info$", d.name))
    }

    # Then they are the lock's packages at the lock's versions, none of the local tooling, and
    # the domain package itself
    assert installed == _locked()
    assert not LOCAL_TOOLING & set(installed)
    assert (layer / "shipshape" / "__init__.py").is_file()


def test_every_extension_module_is_for_lambdas_platform(layer: Path) -> None:
    # Given the template's runtime and architecture, which no function overrides
    template = Template()
    globals_ = template.doc["Globals"]["Function"]
    assert (globals_["Runtime"], globals_["Architectures"]) == ("python3.12", ["x86_64"])
    for logical_id, function in template.of_type("AWS::Serverless::Function").items():
        assert not {"Runtime", "Architectures"} & set(function["Properties"]), logical_id

    # When every native file of the layer is read
    natives = [p for p in layer.rglob("*") if p.suffix in {".so", ".dylib", ".pyd", ".dll"}]

    # Then there are some (pydantic_core is one), and each is a 64-bit x86-64 ELF built for
    # CPython 3.12 on Linux
    assert any(p.name.startswith("_pydantic_core.") for p in natives)
    for path in natives:
        name = str(path.relative_to(layer))
        assert path.suffix == ".so", name
        if ".cpython-" in path.name:  # a module's tag, not a library a wheel vendors (*.libs/)
            assert path.name.endswith(".cpython-312-x86_64-linux-gnu.so"), name
        header = path.read_bytes()[:20]
        assert header[:4] == ELF_MAGIC, name
        assert header[4] == ELFCLASS64, name
        assert int.from_bytes(header[18:20], "little") == EM_X86_64, name


def test_two_builds_give_the_same_bytes(layer: Path, tmp_path: Path) -> None:
    # Given a second build of the same commit, in another directory
    again = _build(tmp_path / "layer-b")

    # Then every file, bytecode included, is identical
    first, second = _tree_digest(layer), _tree_digest(again)
    assert first.keys() == second.keys()
    assert [name for name in first if first[name] != second[name]] == []


def test_the_tests_run_the_versions_the_layer_ships() -> None:
    # Given the layer's lock and the development lock the test suite installs
    developed = _pins(REPO_ROOT / "requirements" / "dev.lock")

    # Then every package the layer ships is installed for the tests at the same version
    assert {name: developed.get(name) for name in _locked()} == _locked()
