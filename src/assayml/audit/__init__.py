"""The tamper-evident audit trail (``audit/audit.jsonl``)."""

from assayml.audit.log import append, read_entries, verify

__all__ = ["append", "read_entries", "verify"]
