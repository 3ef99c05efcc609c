"""Size limits of the HTTP endpoint: bytes per request body and rows per request (plain
values, importable without the web stack, so the command line can show the defaults)."""

from __future__ import annotations

from dataclasses import dataclass

MAX_BODY_BYTES = 1 << 20  # 1 MiB: ~5,000 rows of a nine-column table
MAX_ROWS = 10_000  # bounds model time and memory per request for narrow tables too


@dataclass(frozen=True)
class ServeLimits:
    """What one request may hold; over either limit, 413 (see ``assay serve --help``)."""

    max_body_bytes: int = MAX_BODY_BYTES  # request body, bytes; `--max-body-bytes`
    max_rows: int = MAX_ROWS  # rows per POST /predict; `--max-rows`

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_rows"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")


RELOAD_S = 30.0  # default --reload-interval: a registry reference re-resolved this often
