"""The patches of moto's internals refuse a moto they were not written for, and ``Patcher`` puts
back exactly what it replaced (``shipshape_local.patches``)."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from types import ModuleType

import moto
import pytest

from shipshape_local import patches
from shipshape_local.lifecycle import Calls, Writes
from shipshape_local.metering import Meter
from shipshape_local.patches.guard import MotoVersionMismatch, Patcher, check_version

LOCK = Path(__file__).resolve().parents[2] / "requirements" / "dev.lock"


def _pinned_moto() -> str:
    found = re.search(r"^moto==(\S+)$", LOCK.read_text(), re.MULTILINE)
    assert found is not None, "requirements/dev.lock pins no moto"
    return found.group(1)


def _name(patch: ModuleType) -> str:
    return patch.__name__.rsplit(".", 1)[-1]


@pytest.mark.parametrize("patch", patches.PATCHES, ids=_name)
def test_each_patch_is_written_for_the_pinned_moto(patch: ModuleType) -> None:
    # Given a patch and the moto requirements/dev.lock pins
    pinned = _pinned_moto()

    # When its guard checks the pinned version and the installed one
    check_version(patch, installed=pinned)
    check_version(patch)

    # Then both pass, and the patch says what it is for
    assert moto.__version__ == pinned
    assert patch.__doc__ and len(patch.__doc__.split()) > 20


@pytest.mark.parametrize("patch", patches.PATCHES, ids=_name)
@pytest.mark.parametrize("version", ["5.2.4", "5.2.6", "5.3.0", "6.0.0"])
def test_a_patch_refuses_a_moto_outside_its_range_by_name(patch: ModuleType, version: str) -> None:
    # Given a moto version the patch was not written for
    # When its guard checks it
    with pytest.raises(MotoVersionMismatch) as refused:
        check_version(patch, installed=version)

    # Then the error names the patch, the version found and the range it was written for
    message = str(refused.value)
    assert f"the {_name(patch)} patch" in message
    assert f"moto {version} is installed" in message
    assert str(patch.WRITTEN_FOR) in message


def test_no_patch_is_installed_on_a_moto_it_was_not_written_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given another moto installed than the one the patches were written for
    from botocore.signers import RequestSigner

    sign = vars(RequestSigner)["sign"]
    monkeypatch.setattr(moto, "__version__", "5.3.0")

    # When the patches are installed
    installing = patches.installed(
        lock=threading.RLock(), writes=Writes(), calls=Calls(), meter=Meter(),
        faults=lambda: None, retry_time_factor=1.0,
    )  # fmt: skip
    refused = r"the itemwise_transactions patch .* 5\.3\.0"
    with pytest.raises(MotoVersionMismatch, match=refused), installing:
        pytest.fail("the context must not be entered")

    # Then none is: the check comes before the first one
    assert not patches.is_installed()
    assert vars(RequestSigner)["sign"] is sign


class _Base:
    def inherited(self) -> str:
        return "base"


class _Owner(_Base):
    @staticmethod
    def helper() -> str:
        return "helper"

    def own(self) -> str:
        return "own"


def test_the_patcher_restores_the_very_objects_it_replaced() -> None:
    # Given a static method, a method, an inherited method and a module attribute
    module = ModuleType("somewhere")
    module.clock = object()  # type: ignore[attr-defined]
    raw = dict(vars(_Owner))
    clock = module.clock  # type: ignore[attr-defined]
    patcher = Patcher("example")

    # When the patcher replaces them and then restores them
    patcher.replace(_Owner, "helper", staticmethod(lambda: "patched"))
    patcher.replace(_Owner, "own", lambda self: "patched")
    patcher.replace(_Owner, "inherited", lambda self: "patched")
    patcher.replace(module, "clock", object())
    assert (_Owner.helper(), _Owner().own(), _Owner().inherited()) == ("patched",) * 3
    patcher.restore()

    # Then each is the object it was (the staticmethod itself), and the inherited one is
    # inherited again rather than copied onto the class
    assert dict(vars(_Owner)) == raw
    assert all(vars(_Owner)[name] is raw[name] for name in ("helper", "own"))
    assert "inherited" not in vars(_Owner)
    assert module.clock is clock  # type: ignore[attr-defined]


def test_the_patcher_undoes_what_code_it_watches_changes() -> None:
    # Given a class watched while other code changes one attribute and adds another
    raw = dict(vars(_Owner))
    patcher = Patcher("example")
    patcher.watch(_Owner)
    _Owner.own = lambda self: "changed"  # type: ignore[method-assign]
    _Owner.added = "new"  # type: ignore[attr-defined]

    # When the patcher restores
    patcher.restore()

    # Then the class is as it was
    assert dict(vars(_Owner)) == raw


def test_the_patcher_names_the_patch_whose_target_is_missing() -> None:
    # Given a patch whose target moto no longer has
    patcher = Patcher("partition_queries")

    # When it is replaced
    with pytest.raises(AttributeError, match=r"the partition_queries patch expects _Owner\.gone"):
        patcher.replace(_Owner, "gone", object())

    # Then nothing was changed
    assert "gone" not in vars(_Owner)
