"""`connector reconcile`: the thin CLI face of connector/operations/reconcile.py.

Reads the vendors, compares with the ledger, repairs what is safe and flags the rest
(`--dry-run`: reads only, writes nothing anywhere). Prints the findings, or with `--json` the
report; exit code 0 when it ran (findings are shown by `status` and `trace` too), 1 when a
vendor or the database failed, 2 for bad settings.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from connector.commands import _acting_person, _opened_runtime
from connector.settings import load_settings


def register(sub: Any) -> None:
    reconcile = sub.add_parser(
        "reconcile", help="compare the ledger with the vendors: repair what is safe (a "
                          "removed enrollment, once), flag the rest (a deleted goal, a "
                          "deactivated learner)")
    reconcile.add_argument("--dry-run", action="store_true",
                           help="read and compare only: change nothing, record nothing")
    reconcile.add_argument("--json", action="store_true")
    reconcile.add_argument("--by", help="who runs it (for the audit trail; default: login)")
    reconcile.set_defaults(func=cmd_reconcile)


def cmd_reconcile(args: argparse.Namespace) -> int:
    from connector.operations.reconcile import reconcile

    settings = load_settings()
    with _opened_runtime(settings) as rt:
        report = reconcile(rt.ctx, dry_run=args.dry_run, reenroll=settings.reconcile_reenroll,
                           by=_acting_person(args))
    print(json.dumps(report.as_json(), indent=2) if args.json else report.text())
    return 0
