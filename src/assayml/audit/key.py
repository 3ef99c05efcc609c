"""The audit trail's key: an HMAC-SHA256 secret kept outside the repository.

Anyone who can edit ``audit/audit.jsonl`` can recompute its SHA-256 chain; only someone who
holds the key can recompute the MAC that each entry carries once the trail is keyed
(``assay audit init``). The key comes from ``$ASSAY_AUDIT_KEY`` (hex, for CI secrets), or
the file ``$ASSAY_AUDIT_KEY_FILE``, or ``~/.config/assayml/audit.key``. Python's ``hmac``
does the cryptography; a signature scheme (Ed25519) would let people without the secret
verify too, but every writer would still need a secret, so a shared MAC key is simpler.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from assayml.errors import BadInputError

KEY_ENV = "ASSAY_AUDIT_KEY"  # the key itself, hex (at least 32 bytes)
KEY_FILE_ENV = "ASSAY_AUDIT_KEY_FILE"  # a file holding the hex key
KEY_BYTES = 32  # 256-bit secret, the size of HMAC-SHA256's block output
KEY_ID_LENGTH = 16  # hex characters of the key's public fingerprint


class AuditKeyError(BadInputError):
    """A key that is missing where the trail needs one, unreadable, or the wrong one."""


@dataclass(frozen=True)
class AuditKey:
    secret: bytes
    source: str  # where it came from, for messages (never the key itself)

    @property
    def key_id(self) -> str:
        """A fingerprint that names the key without revealing it."""
        digest = hashlib.sha256(b"assayml audit key id\0" + self.secret).hexdigest()
        return digest[:KEY_ID_LENGTH]

    def mac(self, text: str) -> str:
        """HMAC-SHA256 of ``text`` (an entry's hash, or the head's summary)."""
        return hmac.new(self.secret, text.encode(), hashlib.sha256).hexdigest()

    def checks(self, text: str, mac: str | None) -> bool:
        return mac is not None and hmac.compare_digest(self.mac(text), mac)


def default_key_file() -> Path:
    config = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(config) / "assayml" / "audit.key"


def key_file() -> Path:
    """Where the key file is looked for (and where ``assay audit init`` creates it)."""
    return Path(os.environ.get(KEY_FILE_ENV) or default_key_file()).expanduser()


def load_key() -> AuditKey | None:
    """The key from the environment or the key file; None when there is none."""
    if os.environ.get(KEY_ENV):
        return AuditKey(_parse(os.environ[KEY_ENV], f"${KEY_ENV}"), f"${KEY_ENV}")
    path = key_file()
    if not path.is_file():
        return None
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as err:
        raise AuditKeyError(f"{path}: the audit key file is unreadable ({err})") from err
    return AuditKey(_parse(text, str(path)), str(path))


def create_key(root: str | Path) -> AuditKey:
    """Make a new random key file at :func:`key_file` (mode 0600), outside ``root``.

    Raises:
        AuditKeyError: the key file would lie inside the project (anyone who can edit the
            trail could then read the key), or it exists already.
    """
    path = key_file()
    if path.resolve().is_relative_to(Path(root).resolve()):
        raise AuditKeyError(
            f"{path}: the audit key must live outside the project ({Path(root).resolve()}); "
            f"set {KEY_FILE_ENV} to a path such as ~/.config/assayml/audit.key"
        )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        # O_EXCL: never overwrite a key that signed entries (they could not be checked again).
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise AuditKeyError(f"{path}: a key file exists already; it was not replaced") from None
    secret = secrets.token_bytes(KEY_BYTES)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secret.hex() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return AuditKey(secret, str(path))


def _parse(text: str, where: str) -> bytes:
    try:
        secret = bytes.fromhex(text.strip())
    except ValueError:
        raise AuditKeyError(f"{where}: the audit key is not hexadecimal") from None
    if len(secret) < KEY_BYTES:
        raise AuditKeyError(
            f"{where}: the audit key has {len(secret)} bytes; it needs at least {KEY_BYTES} "
            "(64 hex digits; `assay audit init` makes one)"
        )
    return secret
