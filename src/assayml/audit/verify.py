"""``assay audit verify``: what happened to the trail, named.

Three layers, each finding what the one before cannot:

- the hash chain (always): an edited entry (content no longer matches its hash), deleted
  entries (a gap in the sequence), an inserted entry (a second entry for a sequence number,
  not the one the next entry links to), reordered entries (sequence numbers out of file
  order), and an entry rewritten with a recomputed hash (the next entry no longer links);
- the MACs (with the key): a chain rewritten whole, hashes recomputed, or an entry written
  without the key;
- the chain head (``records/audit_head.json`` and every version of it in git history): the
  log truncated, deleted, or replaced by another chain.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from assayml.audit.head import (
    ANCHOR_REF,
    HEAD_FILE,
    Head,
    committed_heads,
    head_path,
    read_head,
)
from assayml.audit.key import AuditKey, AuditKeyError, load_key
from assayml.audit.log import GENESIS, audit_path, entry_hash

Parsed = list[tuple[int, dict[str, Any]]]  # (line number, entry)


@dataclass
class Finding:
    kind: str  # edited | deleted | inserted | reordered | truncated | rewritten | torn
    line: int | None  # the line of the log it concerns, when it concerns one
    seq: int | None
    message: str


@dataclass
class Verdict:
    intact: bool
    entries: int  # entries before the first finding (all of them when intact)
    problem: str | None = None  # the first finding's message
    findings: list[Finding] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)  # what this verification covered
    limits: list[str] = field(default_factory=list)  # what it could not detect, and why

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def verify(root: str | Path = ".", key: AuditKey | None = None) -> Verdict:
    """Check the chain, the MACs (with ``key``, by default the key set here) and the head
    against the log; name everything found, and what could not be checked."""
    path = audit_path(root)
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines() if path.exists() else []
    parsed, findings = parse_lines(path, lines)
    chain, chain_findings = check_chain(path, parsed)
    findings += chain_findings
    checked = ["every entry's hash and link: edits, deletions, insertions, reordering"]
    limits: list[str] = []
    key = key or _key_or_none(limits)
    head, committed = read_head(root), committed_heads(root)
    heads = [h for h in [head, *(committed or [])] if h is not None]
    findings += check_macs(path, parsed, key, heads, checked, limits)
    findings += check_heads(path, lines, chain, head, committed, checked, limits)
    findings += check_head_mac(head, key)
    if head is None and head_path(root).exists():
        findings.append(Finding("edited", None, None, f"{HEAD_FILE}: not a chain head: edited"))
    findings.sort(key=lambda f: (f.line is None, f.line or 0))
    first_line = next((f.line for f in findings if f.line is not None), None)
    good = (first_line - 1) if first_line else len(parsed)
    problem = findings[0].message if findings else None
    return Verdict(not findings, good, problem, findings, checked, limits)


def parse_lines(path: Path, lines: list[str]) -> tuple[Parsed, list[Finding]]:
    parsed: Parsed = []
    findings = []
    for number, line in enumerate(lines, start=1):
        try:
            entry = json.loads(line)
            if isinstance(entry.get("seq"), int) and isinstance(entry.get("hash"), str):
                parsed.append((number, entry))
                continue
        except (ValueError, AttributeError):
            pass
        if number == len(lines):
            message = "torn (a crash while it was written); `assay audit repair` sets it aside"
            findings.append(Finding("torn", number, None, f"{path}:{number}: {message}"))
        else:
            message = "not a JSON entry: edited"
            findings.append(Finding("edited", number, None, f"{path}:{number}: {message}"))
    return parsed, findings


def check_chain(path: Path, parsed: Parsed) -> tuple[dict[int, tuple], list[Finding]]:
    """The genuine entry of each sequence number, and what breaks the chain."""
    findings = []
    edited = set()
    for number, entry in parsed:
        if entry["hash"] != entry_hash(entry):
            edited.add(number)
            findings.append(
                Finding(
                    "edited",
                    number,
                    entry["seq"],
                    f"{path}:{number} (seq {entry['seq']}): content does not match its hash: "
                    "the entry was edited",
                )
            )
    findings += _reordered(path, parsed)
    chain, inserted = _genuine(path, parsed)
    findings += inserted + _deleted(path, chain) + _broken_links(path, chain, edited)
    return chain, findings


def _reordered(path: Path, parsed: Parsed) -> list[Finding]:
    """Runs of lines whose sequence numbers are out of file order."""
    seqs = [e["seq"] for _, e in parsed]
    before = [max(seqs[:i], default=0) for i in range(len(seqs))]
    after = [min(seqs[i + 1 :], default=seqs[i]) for i in range(len(seqs))]
    out = [before[i] > s or after[i] < s for i, s in enumerate(seqs)]
    findings, i = [], 0
    while i < len(out):
        if not out[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(out) and out[j + 1]:
            j += 1
        first, last = parsed[i][0], parsed[j][0]
        order = ", ".join(str(s) for s in seqs[i : j + 1])
        findings.append(
            Finding(
                "reordered",
                first,
                seqs[i],
                f"{path}:{first} (seq {seqs[i]}): out of order: lines {first}..{last} hold "
                f"seq {order}: entries were reordered (moved)",
            )
        )
        i = j + 1
    return findings


def _genuine(path: Path, parsed: Parsed) -> tuple[dict[int, tuple], list[Finding]]:
    """One entry per sequence number: where there are several, the one the next entry
    links to; the others were inserted."""
    by_seq: dict[int, list[tuple[int, dict]]] = {}
    for number, entry in parsed:
        by_seq.setdefault(entry["seq"], []).append((number, entry))
    linked = {e.get("prev") for _, e in parsed}
    chain, findings = {}, []
    for seq, candidates in sorted(by_seq.items()):
        pick = next((c for c in candidates if c[1]["hash"] in linked), candidates[0])
        chain[seq] = pick
        for number, _ in (c for c in candidates if c is not pick):
            findings.append(
                Finding(
                    "inserted",
                    number,
                    seq,
                    f"{path}:{number} (seq {seq}): a second entry with this sequence number "
                    f"that no entry links to: inserted (the chain's seq {seq} is line {pick[0]})",
                )
            )
    return chain, findings


def _deleted(path: Path, chain: dict[int, tuple]) -> list[Finding]:
    findings = []
    missing = [s for s in range(1, max(chain, default=0) + 1) if s not in chain]
    while missing:
        start = end = missing.pop(0)
        while missing and missing[0] == end + 1:
            end = missing.pop(0)
        number = chain[end + 1][0]
        findings.append(
            Finding(
                "deleted",
                number,
                end + 1,
                f"{path}:{number} (seq {end + 1}): entries {start}..{end} before it were deleted",
            )
        )
    return findings


def _broken_links(path: Path, chain: dict[int, tuple], edited: set[int]) -> list[Finding]:
    findings = []
    for seq, (number, entry) in sorted(chain.items()):
        if seq != 1 and seq - 1 not in chain:
            continue  # reported as deleted
        expected = GENESIS if seq == 1 else chain[seq - 1][1]["hash"]
        if entry.get("prev") == expected or number in edited:
            continue
        before = (
            "the start of the chain" if seq == 1 else f"seq {seq - 1} (line {chain[seq - 1][0]})"
        )
        findings.append(
            Finding(
                "rewritten",
                number,
                seq,
                f"{path}:{number} (seq {seq}): does not link to {before}: that entry was "
                "rewritten with a recomputed hash, or this one was forged",
            )
        )
    return findings


def check_macs(
    path: Path,
    parsed: Parsed,
    key: AuditKey | None,
    heads: list[Head],
    checked: list,
    limits: list,
) -> list[Finding]:
    """With the key: every entry from the first keyed one on must carry a matching MAC.
    Without an entry that is keyed, a head that says the trail is keyed is a finding."""
    keyed = [(n, e) for n, e in parsed if e.get("key_id") or e.get("mac")]
    claim = next((h for h in heads if h.key_id), None)
    if not keyed and claim is not None and parsed:
        message = (
            f"{path}: no entry carries a MAC, but {claim.source} says the trail is keyed "
            f"(key id {claim.key_id}): the chain was rewritten without the key"
        )
        return [Finding("rewritten", None, None, message)]
    if not keyed:
        limits.append(
            "the trail is not keyed (`assay audit init`): a rewrite that recomputes every "
            "hash is found only where the head file or a committed head disagrees"
        )
        return []
    key_id = keyed[0][1].get("key_id")
    if key is None or key.key_id != key_id:
        here = "no key is set here" if key is None else f"the key here has id {key.key_id}"
        limits.append(
            f"MACs not checked: the trail is keyed with key id {key_id} and {here} "
            "(ASSAY_AUDIT_KEY_FILE or ASSAY_AUDIT_KEY); a chain rewritten with recomputed "
            "hashes is found only where the head file or a committed head disagrees"
        )
        return []
    start = min(e["seq"] for _, e in keyed)  # by sequence: a moved entry keeps its place
    if start > 1:
        limits.append(f"entries 1..{start - 1} precede `assay audit init` and carry no MAC")
    bad = [(n, e, _mac_problem(e, key)) for n, e in parsed if e["seq"] >= start]
    checked.append(f"the MAC of every entry from seq {start} on (key id {key.key_id})")
    return _grouped(path, [b for b in bad if b[2]])


def _mac_problem(entry: dict, key: AuditKey) -> str | None:
    if not entry.get("mac"):
        return "carry no MAC in a keyed trail: written without the key (forged)"
    if entry.get("key_id") != key.key_id:
        return f"are signed with another key (id {entry.get('key_id')})"
    if not key.checks(entry["hash"], entry["mac"]):
        return "have MACs that do not match: rewritten without the key"
    return None


def _grouped(path: Path, bad: list[tuple[int, dict, str]]) -> list[Finding]:
    """One finding per run of consecutive lines with the same problem."""
    runs: list[list] = []  # [first line, last line, first seq, problem]
    for number, entry, problem in bad:
        if runs and runs[-1][3] == problem and runs[-1][1] == number - 1:
            runs[-1][1] = number
        else:
            runs.append([number, number, entry["seq"], problem])
    return [
        Finding(
            "rewritten",
            first,
            seq,
            f"{path}:{first if first == last else f'{first}..{last}'}: entries {problem}",
        )
        for first, last, seq, problem in runs
    ]


def check_heads(
    path: Path,
    lines: list,
    chain: dict,
    head: Head | None,
    heads: list[Head] | None,
    checked: list,
    limits: list,
) -> list[Finding]:
    """The working head and every committed one must name an entry the log holds."""
    findings = []
    if head is None:
        limits.append(f"{HEAD_FILE} is missing: the next append writes it")
    else:
        checked.append(f"the chain head in {HEAD_FILE}")
        findings += _head_finding(path, lines, chain, head)
        if chain and max(chain) > head.entries:
            limits.append(
                f"{HEAD_FILE} is {max(chain) - head.entries} entries behind the log (a crash "
                "after an entry was written; the next append or `assay audit repair` updates "
                "it): those entries are not anchored"
            )
    if heads is None:
        limits.append(
            "not in a git work tree: committed heads (truncation of log and head "
            "together) cannot be checked"
        )
    elif not heads:
        limits.append(
            f"no head is anchored in git ({ANCHOR_REF}... is empty: appends made outside "
            "this work tree?): cutting the log and the head together cannot be found"
        )
    else:
        checked.append(f"{len(heads)} head(s) anchored in git ({ANCHOR_REF}..., {HEAD_FILE})")
        failing = [f for h in heads if (f := _head_finding(path, lines, chain, h))]
        if failing:
            older = f" (and {len(failing) - 1} older committed heads)" if len(failing) > 1 else ""
            failing[0][0].message += older
            findings += failing[0]
    return findings


def _head_finding(path: Path, lines: list, chain: dict, head: Head) -> list[Finding]:
    said = f"{head.source} records {head.entries} entries (last hash {head.hash[:12]})"
    if head.entries <= 0:
        return []
    if not lines:
        return [
            Finding(
                "deleted",
                None,
                None,
                f"{path}: missing or empty, but {said}: the log "
                "was deleted (or this copy lacks it: restore it from backup)",
            )
        ]
    last = max(chain, default=0)
    if last < head.entries:
        return [
            Finding(
                "truncated",
                None,
                last,
                f"{path}: ends at seq {last}, but {said}: "
                f"entries {last + 1}..{head.entries} were cut from the end (truncated)",
            )
        ]
    if head.entries not in chain:
        return []  # that entry is gone from the middle: reported as deleted
    number, entry = chain[head.entries]
    if entry["hash"] != head.hash:
        return [
            Finding(
                "rewritten",
                number,
                head.entries,
                f"{path}:{number} (seq "
                f"{head.entries}): hash {entry['hash'][:12]}, but {said}: the chain "
                "was rewritten with recomputed hashes (or replaced by another)",
            )
        ]
    return []


def check_head_mac(head: Head | None, key: AuditKey | None) -> list[Finding]:
    """A keyed head carries a MAC of its summary: editing it needs the key too."""
    if head is None or key is None or head.key_id != key.key_id:
        return []
    if key.checks(head.summary(), head.mac):
        return []
    message = f"{HEAD_FILE}: its MAC does not match: the head was edited without the key"
    return [Finding("edited", None, None, message)]


def _key_or_none(limits: list) -> AuditKey | None:
    try:
        return load_key()
    except AuditKeyError as err:  # an unreadable key must not hide the chain's findings
        limits.append(f"the key could not be read: {err}")
        return None
