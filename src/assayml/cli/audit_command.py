"""``assay audit verify``: check the hash chain (exit 0 intact, 1 broken);
``assay audit show``: entries, filtered by action, subject and time."""

from __future__ import annotations

import argparse
import json

from assayml.errors import EXIT_INTERNAL, EXIT_OK


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="assay audit", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="action", required=True)
    sub.add_parser("verify", help="check every entry and link of the chain")
    show = sub.add_parser("show", help="list entries")
    show.add_argument("--action", help="action prefix, e.g. registry or stage.train")
    show.add_argument("--subject", help="text the subject contains, e.g. churn@3")
    show.add_argument("--since", help="UTC time or date, e.g. 2026-11-27")
    show.add_argument("--json", action="store_true")
    return p


def run_audit(args: list[str]) -> int:
    from assayml.audit import read_entries, verify
    from assayml.audit.log import audit_path

    opts = parser().parse_args(args)
    if opts.action == "verify":
        verdict = verify()
        if verdict.intact:
            print(f"{audit_path()}: intact, {verdict.entries} entries")
            return EXIT_OK
        print(f"{audit_path()}: BROKEN after {verdict.entries} good entries: {verdict.problem}")
        return EXIT_INTERNAL  # the contract: 1 when the chain is broken
    entries = read_entries(".", opts.action, opts.subject, opts.since)
    if opts.json:
        print(json.dumps(entries, indent=2))
        return EXIT_OK
    for e in entries:
        extra = {k: v for k, v in e["details"].items() if v is not None}
        print(
            f"{e['seq']:>5}  {e['time']}  {e['user']:<10} {e['action']:<20} {e['subject']:<24} "
            f"{json.dumps(extra) if extra else ''}"
        )
    return EXIT_OK
