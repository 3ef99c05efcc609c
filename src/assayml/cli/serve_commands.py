"""``assay predict IN OUT`` (batch) and ``assay serve`` (HTTP), from the project's
``models/``, a models folder or a registry reference (``--model churn@production``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from assayml.cli.registry_command import trust_option
from assayml.errors import EXIT_OK, AssayError
from assayml.verbosity import say, verbose

CAPTURE_DIR = "captured"


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="models folder or registry ref (default: ./models)")
    p.add_argument("--registry", help="registry folder (default: $ASSAY_REGISTRY or registry/)")
    trust_option(p)  # --trust-builder MODULE (see assayml.models.trust)
    p.add_argument("--threshold", type=float, default=0.5, help="binary decision threshold")
    p.add_argument(
        "--capture",
        nargs="?",
        const=CAPTURE_DIR,
        metavar="DIR",
        help=f"capture inputs and outputs (default folder: {CAPTURE_DIR}/)",
    )
    p.add_argument("--sample-rate", type=float, default=1.0, help="share of rows captured")
    p.add_argument("--capture-format", choices=("jsonl", "parquet"), default="jsonl")
    p.add_argument("--rotate", type=int, default=10_000, help="records per capture file")


def run_predict(args: list[str]) -> int:
    p = argparse.ArgumentParser(prog="assay predict", description="batch prediction")
    p.add_argument("input", help="CSV or Parquet with the model's input columns")
    p.add_argument("output", help="CSV or Parquet: the rows with prediction columns")
    p.add_argument(
        "--on-invalid",
        choices=("reject", "fail"),
        default="reject",
        help="rows failing the schema: to a rejects file, or stop with exit 2",
    )
    p.add_argument("--rejects", help="rejects file (default: <output>.rejects.csv)")
    _model_options(p)
    opts = p.parse_args(args)
    try:
        return _predict(opts)
    except AssayError as err:
        print(f"assay predict: error: {err}", file=sys.stderr)
        return err.exit_code


def _predict(opts) -> int:
    from assayml.config.schema import FileFormat
    from assayml.data.sources import parse_table
    from assayml.errors import DataError
    from assayml.serve.deployed import load_deployed, prediction_columns
    from assayml.utils.io import atomic_outputs

    path = Path(opts.input)
    if not path.is_file():
        raise DataError(f"{path}: input file not found")
    frame = parse_table(path.read_bytes(), str(path), FileFormat.auto)
    deployed = load_deployed(opts.model, opts.registry, opts.trust_builder)
    valid, rejects = deployed.validate(frame)
    if len(rejects) and opts.on_invalid == "fail":
        shown = "; ".join(f"row {i}: {r}" for i, r in rejects["reject_reason"].head(5).items())
        raise DataError(f"{path}: {len(rejects)} rows fail the model's schema ({shown})")
    output = valid.reset_index(drop=True)
    if len(valid):
        pred = deployed.predict(valid, opts.threshold)
        output = pd_concat(output, prediction_columns(deployed, pred))
        if opts.capture:
            _capture(opts, deployed, valid, output)
    rejects_path = Path(opts.rejects or f"{opts.output}.rejects.csv")
    with atomic_outputs() as out:
        out.write_bytes(Path(opts.output), _table_bytes(output, opts.output))
        if len(rejects):
            out.write_bytes(rejects_path, _table_bytes(rejects, str(rejects_path)))
    say(
        f"predicted {len(valid)} rows -> {opts.output}"
        + (f"; {len(rejects)} rejected -> {rejects_path}" if len(rejects) else "")
    )
    return EXIT_OK


def _capture(opts, deployed, valid, output) -> None:
    import json

    from assayml.serve.capture import CaptureWriter

    writer = CaptureWriter(opts.capture, opts.sample_rate, opts.rotate, opts.capture_format)
    inputs = json.loads(valid[deployed.schema["inputs"]].to_json(orient="records"))
    outputs = json.loads(output.drop(columns=list(valid.columns)).to_json(orient="records"))
    writer.capture(inputs, outputs, deployed.lineage_id)
    writer.close()


def pd_concat(left, right):
    import pandas as pd

    return pd.concat([left, right.reset_index(drop=True)], axis=1)


def _table_bytes(frame, name: str) -> bytes:
    import io

    buffer = io.BytesIO()
    if name.endswith((".parquet", ".pq")):
        frame.to_parquet(buffer, index=False)
    else:
        frame.to_csv(buffer, index=False)
    return buffer.getvalue()


def run_serve(args: list[str]) -> int:
    p = argparse.ArgumentParser(prog="assay serve", description="HTTP inference endpoint")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    _model_options(p)
    opts = p.parse_args(args)
    import uvicorn

    from assayml.serve.capture import CaptureWriter
    from assayml.serve.deployed import load_deployed
    from assayml.serve.server import create_app

    try:
        deployed = load_deployed(opts.model, opts.registry, opts.trust_builder)
    except AssayError as err:
        print(f"assay serve: error: {err}", file=sys.stderr)
        return err.exit_code
    capture = None
    if opts.capture:
        capture = CaptureWriter(opts.capture, opts.sample_rate, opts.rotate, opts.capture_format)
    say(f"serving {deployed.lineage_id} on http://{opts.host}:{opts.port}")
    uvicorn.run(
        create_app(deployed, capture, opts.threshold),
        host=opts.host,
        port=opts.port,
        log_level="info" if verbose() else "warning",  # info: a line per request
    )
    return EXIT_OK
