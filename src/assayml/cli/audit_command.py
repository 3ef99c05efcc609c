"""``assay audit``: verify (exit 0 intact, 1 broken), show, init (key), repair the trail.

``init`` keys the trail (a MAC on every later entry); ``repair`` sets aside what a crash
left (a torn last line, a stale head) and records that it did."""

from __future__ import annotations

import argparse
import json
import sys

from assayml.errors import EXIT_INTERNAL, EXIT_OK, AssayError


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="assay audit", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="action", required=True)
    verify = sub.add_parser(
        "verify", help="check every entry, link and MAC, and the head against git history"
    )
    verify.add_argument("--json", action="store_true")
    show = sub.add_parser("show", help="list entries")
    show.add_argument("--action", help="action prefix, e.g. registry or stage.train")
    show.add_argument("--subject", help="text the subject contains, e.g. churn@3")
    show.add_argument("--since", help="UTC time or date, e.g. 2026-11-27")
    show.add_argument("--json", action="store_true")
    sub.add_parser(
        "init",
        help="key the trail: make a key file outside the project (or use $ASSAY_AUDIT_KEY / "
        "$ASSAY_AUDIT_KEY_FILE) and sign every entry from now on",
    )
    sub.add_parser(
        "repair", help="set aside a torn last line, update the head; recorded as an entry"
    )
    return p


def run_audit(args: list[str]) -> int:
    opts = parser().parse_args(args)
    try:
        if opts.action == "verify":
            return _verify(opts.json)
        if opts.action == "init":
            return _init()
        if opts.action == "repair":
            return _repair()
    except AssayError as err:
        print(f"assay audit {opts.action}: error: {err}", file=sys.stderr)
        return err.exit_code
    return _show(opts)


def _verify(as_json: bool) -> int:
    from assayml.audit import verify
    from assayml.audit.log import audit_path

    verdict = verify()
    if as_json:
        print(json.dumps(verdict.to_dict(), indent=2))
    elif verdict.intact:
        print(f"{audit_path()}: intact, {verdict.entries} entries")
    else:
        print(
            f"{audit_path()}: BROKEN after {verdict.entries} good entries: "
            f"{len(verdict.findings)} finding(s)"
        )
        for finding in verdict.findings:
            print(f"  {finding.kind}: {finding.message}")
    if not as_json:
        for line in verdict.checked:
            print(f"checked: {line}")
        for line in verdict.limits:
            print(f"not checked: {line}")
    return EXIT_OK if verdict.intact else EXIT_INTERNAL  # the contract: 1 when broken


def _init() -> int:
    from assayml.audit.init import init_trail

    print(init_trail("."))
    return EXIT_OK


def _repair() -> int:
    from assayml.audit import verify
    from assayml.audit.log import ensure_appendable
    from assayml.audit.repair import repair

    entry = repair(".")
    if entry is None:
        print("nothing to repair: the log ends with a complete entry and the head is current")
    else:
        print(f"repaired; recorded as entry {entry['seq']}: {json.dumps(entry['details'])}")
    ensure_appendable(".")
    verdict = verify()
    for finding in verdict.findings:
        print(f"  still found (evidence, not repaired): {finding.kind}: {finding.message}")
    return EXIT_OK


# Commands (and registry actions) that append an entry after writing their own output.
AUDITED = {
    "monitor": None,
    "reproduce": None,
    "forget": None,
    "retrain": None,
    "registry": {"register", "approve", "reject", "promote", "archive", "compare"},
}


def refuse_unauditable(command: str, args: list[str]) -> int | None:
    """Exit code 2 (and why, with how to repair) when ``command`` would write and then
    fail to append its audit entry; None when it may run."""
    if command not in AUDITED or {"-h", "--help"} & set(args):
        return None
    actions = AUDITED[command]
    if actions is not None and not actions & set(args):
        return None  # a read-only registry action
    from assayml.audit import ensure_appendable

    try:
        ensure_appendable(".")
    except AssayError as err:
        print(f"assay {command}: error: {err}", file=sys.stderr)
        return err.exit_code
    return None


def _show(opts) -> int:
    from assayml.audit import read_entries

    entries = read_entries(".", opts.action, opts.subject, opts.since)
    if opts.json:
        print(json.dumps(entries, indent=2))
        return EXIT_OK
    for e in entries:
        extra = {k: v for k, v in (e.get("details") or {}).items() if v is not None}
        print(
            f"{e['seq']:>5}  {e['time']}  {e['user']:<10} {e['action']:<20} {e['subject']:<24} "
            f"{json.dumps(extra) if extra else ''}"
        )
    return EXIT_OK
