"""``assay audit init``: key the trail, so that entries cannot be rewritten without the key."""

from __future__ import annotations

from pathlib import Path

from assayml.audit.head import HEAD_FILE, read_head
from assayml.audit.key import KEY_FILE_ENV, AuditKeyError, create_key, load_key
from assayml.audit.log import (
    AUDIT_FILE,
    append_locked,
    audit_path,
    entry_fields,
    last_entry,
    lock_for,
)


def init_trail(root: str | Path = ".") -> str:
    """Use the key set here (or make a key file outside ``root``) and append a signed
    ``audit.init`` entry; from then on every entry must carry the key's MAC.

    Returns:
        What was done, for the terminal.

    Raises:
        AuditKeyError: the key lies inside the project, or the trail has another key.
        AuditLogError: the log's last line is torn (repair first).
    """
    path = audit_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    with lock_for(path):
        last = last_entry(path)
        head = read_head(root)
        current = (last or {}).get("key_id") or (head.key_id if head else None)
        key = load_key()
        if current and key is not None and key.key_id == current:
            return f"{AUDIT_FILE}: already keyed with key id {current} ({key.source})"
        if current:
            raise AuditKeyError(
                f"{AUDIT_FILE} is keyed with key id {current}, and "
                + ("no key is set here" if key is None else f"{key.source} has id {key.key_id}")
                + f": set {KEY_FILE_ENV} to that key's file; a trail keeps one key"
            )
        made = key is None
        key = create_key(root) if made else key
        _refuse_inside(root, key.source)
        entry = append_locked(
            root, entry_fields("audit.init", AUDIT_FILE, details={"key_id": key.key_id}), key
        )
    return (
        f"{AUDIT_FILE}: keyed from entry {entry['seq']} with key id {key.key_id} "
        f"({'made ' if made else ''}{key.source}).\n"
        f"Keep the key out of the repository and back it up: without it MACs cannot be "
        f"checked. Give it to every machine that runs assay here ({KEY_FILE_ENV}=PATH, or "
        f"ASSAY_AUDIT_KEY=HEX for a CI secret). Commit {HEAD_FILE} with the pipeline records."
    )


def _refuse_inside(root: str | Path, source: str) -> None:
    if source.startswith("$"):
        return  # from the environment
    if Path(source).resolve().is_relative_to(Path(root).resolve()):
        raise AuditKeyError(
            f"{source}: the audit key lies inside the project; anyone who can edit the "
            f"trail could read it. Move it out and set {KEY_FILE_ENV}"
        )
