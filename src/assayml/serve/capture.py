"""Data capture: inputs and outputs of served or batch predictions, to rotating JSON-lines
(or Parquet) files. Thread-safe: one lock guards sampling, buffering and writing, so under
concurrent requests no record is lost or torn; ``close`` flushes what is buffered (the
server calls it on graceful shutdown).

A record is ``{"id", "time", "model", "inputs", "outputs"}`` plus, from ``assay serve``,
the fields it adds (``variant``, ``request_id``, and ``shadow: true`` in a shadow's folder);
``assay monitor`` reads ``inputs.*``, ``outputs.prediction`` and ``id`` and ignores the rest."""

from __future__ import annotations

import json
import random
import threading
import uuid
from pathlib import Path
from typing import Any

from assayml.records import utc_now


class CaptureWriter:
    def __init__(
        self,
        directory: str | Path,
        sample_rate: float = 1.0,
        max_records: int = 10_000,
        fmt: str = "jsonl",
        seed: int = 0,
        flush_every: int = 100,
    ) -> None:
        if not 0.0 <= sample_rate <= 1.0:
            raise ValueError(f"sample rate must lie in [0, 1], got {sample_rate}")
        if fmt not in ("jsonl", "parquet"):
            raise ValueError(f"capture format must be jsonl or parquet, not {fmt}")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.sample_rate, self.max_records, self.fmt = sample_rate, max_records, fmt
        self.flush_every = flush_every
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._buffer: list[dict[str, Any]] = []
        self._in_file = 0
        self._file: Path | None = None
        self.captured = 0  # records written
        self.files = 0  # files started

    @property
    def pending(self) -> int:
        """Records sampled and buffered, not yet written (the capture queue)."""
        return len(self._buffer)

    def capture(
        self,
        inputs: list[dict],
        outputs: list[dict],
        model: str,
        extra: dict[str, Any] | None = None,
        ids: list[str] | None = None,
    ) -> list[str | None]:
        """Capture each (input, output) pair that the sampling keeps; returns their ids.

        Args:
            extra: fields added to each record (e.g. the variant that answered).
            ids: the records' ids, kept whatever the sampling (a shadow's records take
                the ids of the live records they sit beside); default: new ones, sampled.
        """
        kept = []
        with self._lock:
            for i, (row, out) in enumerate(zip(inputs, outputs, strict=True)):
                sampled = ids is not None or self.sample_rate >= 1.0
                if not sampled and self._random.random() >= self.sample_rate:
                    kept.append(None)
                    continue
                record_id = uuid.uuid4().hex if ids is None else ids[i]
                record = {"id": record_id, "time": utc_now(), "model": model}
                self._buffer.append(record | (extra or {}) | {"inputs": row, "outputs": out})
                kept.append(record_id)
            if len(self._buffer) >= self.flush_every:
                self._flush()
        return kept

    def close(self) -> None:
        with self._lock:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        if self.fmt == "parquet":  # Parquet files are written whole: one file per flush
            import pandas as pd

            path = self.directory / f"capture-{uuid.uuid4().hex[:12]}.parquet"
            pd.json_normalize(self._buffer).to_parquet(path, index=False)
            self.captured += len(self._buffer)
            self.files += 1
            self._buffer = []
            return
        while self._buffer:  # JSON lines: append, rotating every max_records records
            if self._file is None or self._in_file >= self.max_records:
                self._file = self.directory / f"capture-{uuid.uuid4().hex[:12]}.jsonl"
                self._in_file = 0
                self.files += 1
            batch = self._buffer[: self.max_records - self._in_file]
            self._buffer = self._buffer[len(batch) :]
            with open(self._file, "a", encoding="utf-8") as handle:
                handle.write("".join(json.dumps(r, default=_plain) + "\n" for r in batch))
            self._in_file += len(batch)
            self.captured += len(batch)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else str(value)
