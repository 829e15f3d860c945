"""What changed between two matrices, and whether anything got worse (for CI gates).

Cells are paired by runtime column name and feature id. States are ordered
``pass > xpass > skip > unsupported > deviation > fail`` (see ``cells``); a cell that moves
down that order got *worse*. A cell that disappears (a feature no longer run, a runtime column
missing) counts as worse too, because a check that stopped running can hide a regression; say
``allow_missing`` when that is intended. New cells are reported, never worse. A cell the
profile declares intermittent (a race in the runtime) that flips between pass and its
declared state is reported as a flip, not as worse or better.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from harness.matrix.cells import Cell, State
from harness.matrix.document import Matrix


class Change(StrEnum):
    WORSE = "worse"
    BETTER = "better"
    NEW = "new"
    GONE = "gone"
    INTERMITTENT = "flip"  # a declared race: pass <-> its declared state, neither worse


DECLARED_STATES = (State.PASS, State.UNSUPPORTED, State.DEVIATION)


@dataclass(frozen=True)
class CellChange:
    runtime: str
    feature: str
    old: Cell | None
    new: Cell | None

    @property
    def kind(self) -> Change:
        if self.old is None:
            return Change.NEW
        if self.new is None:
            return Change.GONE
        if self.new.intermittent and {self.old.state, self.new.state} <= set(DECLARED_STATES):
            return Change.INTERMITTENT
        return Change.WORSE if self.new.state.rank < self.old.state.rank else Change.BETTER

    def describe(self) -> str:
        old = self.old.state.value if self.old else "(not run)"
        new = self.new.state.value if self.new else "(not run)"
        line = f"{self.kind.value:<6}  {self.runtime}  {self.feature}: {old} -> {new}"
        reason = self.new.reason if self.new else ""
        return f"{line}: {reason}" if reason else line


@dataclass
class Comparison:
    changes: list[CellChange] = field(default_factory=list)
    unchanged: int = 0
    notes: list[str] = field(default_factory=list)

    def count(self, kind: Change) -> int:
        return sum(1 for change in self.changes if change.kind is kind)

    def got_worse(self, allow_missing: bool = False) -> bool:
        return self.count(Change.WORSE) > 0 or (not allow_missing and self.count(Change.GONE) > 0)

    def summary(self) -> str:
        counts = ", ".join(f"{self.count(kind)} {kind.value}" for kind in Change)
        return f"{counts}; {self.unchanged} unchanged"


def compare(old: Matrix, new: Matrix) -> Comparison:
    result = Comparison()
    pairs = _pair_runtimes(old, new, result.notes)
    old_rows = {row.id: row for row in old.features}
    new_rows = {row.id: row for row in new.features}
    features = list(dict.fromkeys([*old_rows, *new_rows]))
    for old_name, new_name in pairs:
        for feature in features:
            before = old_rows[feature].cells.get(old_name) if feature in old_rows else None
            after = new_rows[feature].cells.get(new_name) if feature in new_rows else None
            if before is None and after is None:
                continue
            if before is not None and after is not None and before.state is after.state:
                result.unchanged += 1
                continue
            result.changes.append(CellChange(new_name or old_name, feature, before, after))
    order = list(Change)
    result.changes.sort(key=lambda change: order.index(change.kind))
    return result


def _pair_runtimes(old: Matrix, new: Matrix, notes: list[str]) -> list[tuple[str, str]]:
    """Columns of the same name are paired; two single-column matrices are paired anyway.

    A column only in OLD pairs with "" (all its cells are gone), one only in NEW with ""
    on the old side (all new).
    """
    old_names, new_names = old.runtime_names(), new.runtime_names()
    if len(old_names) == 1 and len(new_names) == 1 and old_names != new_names:
        notes.append(f"comparing runtime {old_names[0]!r} (old) with {new_names[0]!r} (new)")
        return [(old_names[0], new_names[0])]
    pairs = [(name, name if name in new_names else "") for name in old_names]
    pairs += [("", name) for name in new_names if name not in old_names]
    for old_name, new_name in pairs:
        if not new_name:
            notes.append(f"runtime {old_name!r} is missing from the new matrix")
        elif not old_name:
            notes.append(f"runtime {new_name!r} is new")
    return pairs
