"""What every patch of the emulator's internals shares: the version guard (each patch names the
moto versions it was written for, and refuses any other) and ``Patcher``, which replaces
attributes of moto's (and botocore's) classes and modules and later puts back exactly what was
there."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.version import Version

_ABSENT = object()


class MotoVersionMismatch(RuntimeError):
    """The installed moto is not a version a patch was written for: its private internals may
    have changed under it."""


def moto_version() -> str:
    import moto

    return str(moto.__version__)


def check_version(patch: ModuleType, installed: str | None = None) -> None:
    """Refuse to patch a moto outside the range ``patch.WRITTEN_FOR`` names."""
    written_for = SpecifierSet(str(patch.WRITTEN_FOR))
    version = installed if installed is not None else moto_version()
    if Version(version) not in written_for:
        name = patch.__name__.rsplit(".", 1)[-1]
        raise MotoVersionMismatch(
            f"the {name} patch was written for moto {written_for} and moto {version} is "
            f"installed: install the pinned moto (requirements/dev.lock), or re-verify "
            f"local/shipshape_local/patches/{name}.py against moto {version} and widen its "
            "WRITTEN_FOR"
        )


class Patcher:
    """Replaces attributes for one patch and restores them: the very objects that were there
    (a ``staticmethod`` stays one; an attribute a class inherited is inherited again)."""

    def __init__(self, patch: str) -> None:
        self.patch = patch
        self._undo: list[Callable[[], None]] = []

    def replace(self, owner: Any, name: str, value: Any) -> None:
        self.keep(owner, name)
        setattr(owner, name, value)

    def keep(self, owner: Any, name: str) -> None:
        """Remember ``owner.name`` as it is now, to put it back on ``restore`` (for code that
        replaces it itself)."""
        if not hasattr(owner, name):
            where = getattr(owner, "__qualname__", getattr(owner, "__name__", repr(owner)))
            raise AttributeError(
                f"the {self.patch} patch expects {where}.{name}, which the installed moto lacks"
            )
        saved = vars(owner).get(name, _ABSENT)

        def undo() -> None:
            if saved is _ABSENT:
                if name in vars(owner):
                    delattr(owner, name)
            else:
                setattr(owner, name, saved)

        self._undo.append(undo)

    def watch(self, owner: Any) -> None:
        """Remember every attribute ``owner`` defines now, to undo on ``restore`` whatever the
        code this patch calls changes or adds."""
        before = dict(vars(owner))

        def undo() -> None:
            for name in set(vars(owner)) - set(before):
                delattr(owner, name)
            for name, value in before.items():
                if vars(owner).get(name, _ABSENT) is not value:
                    setattr(owner, name, value)

        self._undo.append(undo)

    def restore(self) -> None:
        """Put back what was replaced, the latest first."""
        while self._undo:
            self._undo.pop()()
