"""``assay predict IN OUT`` (batch) and ``assay serve`` (HTTP), from the project's
``models/``, a models folder or a registry reference (``--model churn@production``)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from assayml.cli.registry_command import trust_option
from assayml.errors import EXIT_OK, AssayError
from assayml.serve.batching import MAX_BATCH, MAX_WAIT_MS
from assayml.serve.limits import MAX_BODY_BYTES, MAX_ROWS
from assayml.verbosity import say, verbose

CAPTURE_DIR = "captured"
SHADOW_DIR = "shadow"  # the shadow's records, inside the capture folder


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value < float("inf"):  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be a finite number, 0 or more, got {text!r}")
    return value


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
    from assayml.serve.batch import predict_table
    from assayml.serve.deployed import load_deployed
    from assayml.serve.images import ImageModel

    path = Path(opts.input)
    if path.is_dir() or path.suffix.lower() == ".png":
        return _predict_images(opts, path)
    if not path.is_file():
        raise DataError(f"{path}: input file not found")
    rejects_path = Path(opts.rejects or f"{opts.output}.rejects.csv")
    check_outputs(path, Path(opts.output), rejects_path)
    frame = parse_table(path.read_bytes(), str(path), FileFormat.auto)
    deployed = load_deployed(opts.model, opts.registry, opts.trust_builder)
    if isinstance(deployed, ImageModel):
        raise DataError(
            f"{path}: {deployed.lineage_id} takes PNG images "
            f"{deployed.input_shape}, not table rows: give a PNG file or a folder of them"
        )
    result = predict_table(deployed, frame, opts.threshold)
    rejects = result.rejects
    if len(rejects) and opts.on_invalid == "fail":
        shown = "; ".join(f"row {i}: {r}" for i, r in rejects["reject_reason"].head(5).items())
        raise DataError(f"{path}: {len(rejects)} rows fail the model's schema ({shown})")
    output = result.output
    if len(result.valid) and opts.capture:
        # each row's capture id (null where sampling skipped it), for labels sent back later
        ids = _capture(opts, deployed, result.valid, output)
        output = output.assign(capture_id=ids)
    _write(opts.output, output, rejects_path, rejects)
    say(
        f"predicted {len(result.valid)} rows -> {opts.output}"
        + (f"; {len(rejects)} rejected -> {rejects_path}" if len(rejects) else "")
    )
    return EXIT_OK


def _predict_images(opts, source: Path) -> int:
    """``assay predict FOLDER|FILE.png OUT``: one row per image (an image model only)."""
    from assayml.errors import DataError
    from assayml.serve.deployed import load_deployed
    from assayml.serve.images import ImageModel, predict_files

    check_outputs(source, Path(opts.output), Path(f"{opts.output}.rejects.csv"))
    deployed = load_deployed(opts.model, opts.registry, opts.trust_builder)
    if not isinstance(deployed, ImageModel):
        raise DataError(
            f"{source}: {deployed.lineage_id} takes table rows (CSV or Parquet), not images"
        )
    table = predict_files(deployed, source, opts.threshold)
    if opts.capture:
        from assayml.serve.capture import CaptureWriter

        writer = CaptureWriter(opts.capture, opts.sample_rate, opts.rotate, opts.capture_format)
        inputs = table[["file", "sha256"]].to_dict(orient="records")
        outputs = table.drop(columns=["file", "sha256"]).to_dict(orient="records")
        writer.capture(inputs, outputs, deployed.lineage_id)
        writer.close()
    import pandas as pd

    _write(opts.output, table, Path(f"{opts.output}.rejects.csv"), pd.DataFrame())
    say(f"predicted {len(table)} images -> {opts.output}")
    return EXIT_OK


def check_outputs(source: Path, output: Path, rejects: Path) -> None:
    """Refuse (exit 2, before anything is read or written) an output or rejects path that
    is a folder, is the input file (also through a link), or is the other output."""
    from assayml.errors import DataError

    for target, what in ((output, "OUT"), (rejects, "the rejects file")):
        if target.is_dir():
            raise DataError(
                f"{target}: {what} is a folder; give a file path such as "
                f"{target / 'predictions.csv'}"
            )
        if _same_file(target, source):
            raise DataError(
                f"{target}: {what} is the input file {source}; predicting into it would "
                "overwrite the input: give another path"
            )
    if _same_file(output, rejects):
        raise DataError(f"{output}: OUT and the rejects file (--rejects) are the same file")


def _same_file(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    return a.exists() and b.exists() and a.samefile(b)  # hard links


def _write(output: str, table, rejects_path: Path, rejects) -> None:
    """Both files appear whole or neither does; an OS refusal is bad input (exit 2)."""
    from assayml.errors import DataError
    from assayml.utils.io import atomic_outputs

    batch = None
    try:
        with atomic_outputs() as batch:
            batch.write_bytes(Path(output), _table_bytes(table, output))
            if len(rejects):
                batch.write_bytes(rejects_path, _table_bytes(rejects, str(rejects_path)))
    except OSError as err:
        if batch is not None:
            batch.abort()  # a failed rename in commit leaves its temporary otherwise
        raise DataError(f"{err.filename or output}: cannot write ({err.strerror})") from None


def _capture(opts, deployed, valid, output) -> list[str | None]:
    import json

    from assayml.serve.capture import CaptureWriter

    writer = CaptureWriter(opts.capture, opts.sample_rate, opts.rotate, opts.capture_format)
    inputs = json.loads(valid[deployed.schema["inputs"]].to_json(orient="records"))
    outputs = json.loads(output.drop(columns=list(valid.columns)).to_json(orient="records"))
    ids = writer.capture(inputs, outputs, deployed.lineage_id)
    writer.close()
    return ids


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
    p.add_argument(
        "--max-body-bytes",
        type=_positive,
        default=MAX_BODY_BYTES,
        help=f"largest request body accepted, in bytes; larger: 413 (default {MAX_BODY_BYTES})",
    )
    p.add_argument(
        "--max-rows",
        type=_positive,
        default=MAX_ROWS,
        help=f"most rows per POST /predict; more: 413 (default {MAX_ROWS})",
    )
    p.add_argument(
        "--max-batch",
        type=_positive,
        default=MAX_BATCH,
        help="micro-batching: concurrent requests are merged, up to this many rows, into "
        "one feature transform and one forward pass, and each gets its own rows' answers; "
        f"a larger request runs alone; 1: every request alone (default {MAX_BATCH})",
    )
    p.add_argument(
        "--max-wait-ms",
        type=_non_negative,
        default=MAX_WAIT_MS,
        help="micro-batching: how long a request may wait, in ms, for requests from the "
        "other connections active in the last half second to join it; a lone client never "
        f"waits (default {MAX_WAIT_MS:g})",
    )
    p.add_argument(
        "--threads",
        type=_positive,
        default=1,
        help="torch threads for the model's computations (default 1: a request's pass is "
        "too small to gain from more, and on a busy machine waking them costs more)",
    )
    _model_options(p)
    _variant_options(p)
    opts = p.parse_args(args)
    from assayml.serve.routing import check_options

    try:  # before the heavy imports: a typo is answered at once
        check_options(opts.model, opts.variant)
    except AssayError as err:
        print(f"assay serve: error: {err}", file=sys.stderr)
        return err.exit_code
    import torch
    import uvicorn

    torch.set_num_threads(opts.threads)
    import prometheus_client

    # a *_created series beside every counter doubles /metrics for a timestamp Prometheus
    # does not use (it ingests them only with created-timestamp ingestion switched on)
    prometheus_client.disable_created_metrics()

    from assayml.serve.batching import BatchSettings
    from assayml.serve.capture import CaptureWriter
    from assayml.serve.launch import DEFAULT_NAME, build_fleet
    from assayml.serve.limits import ServeLimits
    from assayml.serve.server import create_app

    try:
        served = build_fleet(
            opts.model,
            opts.variant,
            opts.shadow,
            opts.registry,
            opts.trust_builder,
            opts.route_seed,
            opts.reload_interval,
        )
    except AssayError as err:
        print(f"assay serve: error: {err}", file=sys.stderr)
        return err.exit_code
    capture = shadow_capture = None
    if opts.capture:
        capture = CaptureWriter(opts.capture, opts.sample_rate, opts.rotate, opts.capture_format)
        if getattr(served, "shadow", None) is not None:
            shadow_capture = CaptureWriter(
                Path(opts.capture) / SHADOW_DIR, 1.0, opts.rotate, opts.capture_format
            )
    limits = ServeLimits(opts.max_body_bytes, opts.max_rows)
    from assayml.serve.image_app import create_image_app
    from assayml.serve.images import ImageModel

    if isinstance(served, ImageModel):
        say(f"serving {served.lineage_id} on http://{opts.host}:{opts.port}")
        name = opts.model or DEFAULT_NAME
        app = create_image_app(served, capture, opts.threshold, limits, name)
    else:
        for v in served.variants:
            say(f"{v.role} {v.name} ({v.weight:.3g}): {v.serving.deployed.lineage_id}")
        say(f"serving on http://{opts.host}:{opts.port}")
        batching = BatchSettings(opts.max_batch, opts.max_wait_ms)
        token = opts.admin_token or os.environ.get("ASSAY_ADMIN_TOKEN") or None
        app = create_app(
            served, capture, opts.threshold, limits, batching, shadow_capture, admin_token=token
        )
    uvicorn.run(
        app,
        host=opts.host,
        port=opts.port,
        log_level="info" if verbose() else "warning",  # info: a line per request
    )
    return EXIT_OK


def _variant_options(p: argparse.ArgumentParser) -> None:
    from assayml.serve.limits import RELOAD_S

    p.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="REF=WEIGHT",
        help="serve this model (registry ref or folder) to a share of the requests, weights "
        "normalised to sum to 1; repeat for A/B (--variant churn@3=0.9 --variant "
        "churn@4=0.1); a request with an X-Assay-Key header always gets the same variant",
    )
    p.add_argument(
        "--shadow",
        metavar="REF",
        help="also send a copy of each request to this model, off the response path: its "
        f"predictions are captured under <capture>/{SHADOW_DIR}/ and never returned",
    )
    p.add_argument(
        "--route-seed",
        type=int,
        default=0,
        help="seed of the draws that route requests without a key (default 0)",
    )
    p.add_argument(
        "--reload-interval",
        type=_non_negative,
        default=RELOAD_S,
        help="seconds between checks of what each registry ref names (churn@production); "
        "a promoted version is loaded and swapped in without dropping a request; 0: only "
        f"on POST /admin/reload (default {RELOAD_S:g})",
    )
    p.add_argument(
        "--admin-token",
        help="POST /admin/reload then needs 'Authorization: Bearer TOKEN' (default: "
        "$ASSAY_ADMIN_TOKEN, which, unlike this option, other users cannot read in `ps`; "
        "without either, only requests from 127.0.0.1 or ::1)",
    )
