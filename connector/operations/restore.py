"""A database restored from a backup: it may not know what was done in the vendors since.

`connector db restored` opens the adoption window (see `Store.adoption_reason` and the
executor): during the next full cycle, before each employee's goal and evidence, the vendors
are asked first and what they already hold is adopted instead of made twice. A new database
opens the window by itself; a restore cannot be told from the data, so a person says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from connector.store import Store

RESTORED = "a database restored from a backup"


@dataclass(frozen=True)
class RestoreResult:
    opened: bool  # False: the window was already open
    reason: str

    def text(self) -> str:
        if not self.opened:
            return (f"the adoption window is already open ({self.reason}); it closes after "
                    "the next full cycle")
        return ("adoption window opened: during the next full cycle (`connector sync --once`, "
                "or serve's first round) goals and evidence are looked up in the vendors "
                "first and adopted, not made twice")


def mark_restored(store: Store, *, by: str) -> RestoreResult:
    """Open the adoption window for a restored database (audited; a repeat changes nothing)."""
    with store.transaction() as tx:
        current = store.adoption_reason(tx)
        if current is not None:
            return RestoreResult(opened=False, reason=current)
        store.open_adoption(RESTORED, tx)
        store.audit(tx, None, "adoption.opened", f"{by} marked the database as {RESTORED}; "
                    "the vendors are asked first during the next full cycle")
    return RestoreResult(opened=True, reason=RESTORED)
