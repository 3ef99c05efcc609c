"""The tamper-evident audit trail (``audit/audit.jsonl``), anchored by a key and a chain
head committed with the records. See README, "Threat model", for what it guarantees."""

from assayml.audit.log import append, ensure_appendable, read_entries
from assayml.audit.verify import Verdict, verify

__all__ = ["Verdict", "append", "ensure_appendable", "read_entries", "verify"]
