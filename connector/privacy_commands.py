"""`connector prune` and `connector erase`: retention and erasure on the command line.

Thin faces over connector/operations/retention.py and connector/operations/erase.py, in the
style of connector/commands.py: one store for the run, `--dry-run` shows what would change,
`--json` for machines, `--by` names who acted in the audit row. Registered on the
`connector` parser by `register()`.
"""

from __future__ import annotations

import argparse
from typing import Any

from connector.commands import _acting_person, _add_by_and_json, _emit, _opened_store


def register(sub: Any) -> None:
    prune = sub.add_parser("prune", help="empty raw bodies, finished job payloads and audit "
                           "detail older than the retention settings (keeps dedupe keys, "
                           "rows and the ledger)")
    prune.add_argument("--dry-run", action="store_true",
                       help="count what would be emptied per table, change nothing")
    prune.add_argument("--vacuum", action="store_true",
                       help="then give the space back to the file system (SQLite: VACUUM, "
                            "which locks the database while it runs)")
    _add_by_and_json(prune)
    prune.set_defaults(func=cmd_prune)

    erase = sub.add_parser("erase", help="erase an employee's personal data from every table "
                           "(pseudonymised; a tombstone keeps them from coming back)")
    erase.add_argument("employee", metavar="EMPLOYEE", help="the employee id (the ledger's)")
    erase.add_argument("--dry-run", action="store_true",
                       help="show what would be rewritten, change nothing")
    _add_by_and_json(erase)
    erase.set_defaults(func=cmd_erase)


def cmd_prune(args: argparse.Namespace) -> int:
    from connector.operations.retention import prune

    with _opened_store() as (settings, store):
        result = prune(store, settings, dry_run=args.dry_run, by=_acting_person(args),
                       vacuum=args.vacuum and not args.dry_run)
    _emit(args, result.as_json(), result.text())
    return 0


def cmd_erase(args: argparse.Namespace) -> int:
    from connector.operations.erase import erase_employee

    with _opened_store() as (_, store):
        result = erase_employee(store, args.employee, by=_acting_person(args),
                                dry_run=args.dry_run)
    _emit(args, result.as_json(), result.text())
    return 0
