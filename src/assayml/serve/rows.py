"""What ``POST /predict`` accepts: ``{"rows": [{column: value, ...}, ...]}`` and nothing else.

Each row is checked against the model's input schema by a pydantic model built from it
(types, ranges, allowed categories, no unknown fields); numbers must be finite (no NaN or
Infinity, which Python's JSON parser accepts though JSON has neither), and a boolean is
not a number (pydantic's lax mode would read ``true`` as 1.0). Refusals are FastAPI's own
422 shape, ``{"detail": [{"loc": ["body", "rows", ROW, FIELD], "msg": ...}]}``.
"""

from __future__ import annotations

import json
import math
from functools import partial
from typing import Annotated, Any, Literal

from annotated_types import Ge, Le
from fastapi.exceptions import RequestValidationError
from pydantic import (
    AllowInfNan,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
)
from pydantic_core import PydanticCustomError
from starlette.exceptions import HTTPException

PYTHON_TYPES = {"float": float, "int": int, "bool": bool, "category": str, "str": str}
INT64 = (-(2**63), 2**63 - 1)  # the table the rows become holds int64: larger ints are refused


def row_model(schema: dict[str, Any]) -> type[BaseModel]:
    """A pydantic model of one input row: a field per input column, with its type, range
    and allowed values; unknown fields are refused."""
    fields: dict[str, Any] = {}
    for name in schema["inputs"]:
        spec = schema["columns"][name]
        kind = _field_type(spec)
        fields[name] = (kind | None, None) if spec.get("nullable") else (kind, ...)
    return create_model("Row", __config__=ConfigDict(extra="forbid"), **fields)


def _field_type(spec: dict[str, Any]) -> Any:
    if spec.get("allowed"):
        return Literal[tuple(spec["allowed"])]
    dtype = spec["dtype"]
    if dtype not in ("float", "int"):
        return PYTHON_TYPES[dtype]
    low, high = spec.get("min"), spec.get("max")
    if dtype == "int":  # the tighter of the schema's range and int64's
        low = INT64[0] if low is None else max(low, INT64[0])
        high = INT64[1] if high is None else min(high, INT64[1])
    checks: list[Any] = [Ge(low)] if low is not None else []
    checks += [Le(high)] if high is not None else []
    checks += [AllowInfNan(False)] if dtype == "float" else []  # after conversion too
    # Last, so that it wraps the checks above: it runs first, and the JSON schema keeps
    # the standard "minimum"/"maximum" keywords.
    checks.append(BeforeValidator(partial(_plain_number, integer=dtype == "int")))
    return Annotated[tuple([PYTHON_TYPES[dtype], *checks])]


def _plain_number(value: Any, integer: bool) -> Any:
    """Refuse a boolean, and a NaN or infinity in any spelling (JSON's extensions, strings,
    an overflowing literal such as 1e400), before pydantic's range checks would answer
    with a misleading "should be greater than or equal to"; for an integer column, also a
    number beyond int64 (pydantic would speak of "parsing an input string")."""
    if isinstance(value, bool):
        raise PydanticCustomError("number_type", "Input should be a number, not a boolean")
    number = value
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value  # pydantic names the type error
    if isinstance(number, float) and not math.isfinite(number):
        raise PydanticCustomError("finite_number", "Input should be a finite number")
    if integer and isinstance(number, float) and not INT64[0] <= number <= INT64[1]:
        raise PydanticCustomError("int_range", "Input should be an integer within int64")
    return value


def request_model(row: type[BaseModel]) -> type[BaseModel]:
    """The body: ``rows`` (at least one) and no other top-level field."""
    return create_model(
        "PredictRequest",
        __config__=ConfigDict(extra="forbid"),
        rows=(list[row], Field(..., min_length=1)),
    )


def request_schema(row: type[BaseModel], max_rows: int) -> dict[str, Any]:
    """The body's JSON schema for the OpenAPI page (the endpoint reads the body itself)."""
    rows = {"type": "array", "items": row.model_json_schema(), "minItems": 1}
    rows["maxItems"] = max_rows
    body = {
        "type": "object",
        "properties": {"rows": rows},
        "required": ["rows"],
        "additionalProperties": False,
    }
    return {"required": True, "content": {"application/json": {"schema": body}}}


def parse_rows(body: bytes, model: type[BaseModel], max_rows: int) -> list[dict[str, Any]]:
    """The validated rows of a request body, as plain dicts in the schema's column order.

    Raises:
        HTTPException: 413 for more than ``max_rows`` rows (counted before validating any).
        RequestValidationError: 422 for a body that is not JSON or breaks the schema.
    """
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        position = getattr(err, "pos", getattr(err, "start", 0))
        raise RequestValidationError(
            [_error("json_invalid", ("body", position), f"the body is not JSON: {err}")]
        ) from None
    except RecursionError:  # e.g. 500,000 nested "[": the parser gives up, not the server
        raise RequestValidationError(
            [_error("json_invalid", ("body",), "the body nests too deeply to be read")]
        ) from None
    rows = data.get("rows") if isinstance(data, dict) else None
    if isinstance(rows, list) and len(rows) > max_rows:
        raise HTTPException(
            413,
            f"{len(rows)} rows is over the limit of {max_rows} rows per request "
            "(assay serve --max-rows): send them in smaller batches",
        )
    try:
        parsed = model.model_validate(data)
    except ValidationError as err:
        raise RequestValidationError(
            [_plain_error(e) for e in err.errors(include_url=False)]
        ) from None
    return [r.model_dump() for r in parsed.rows]


def _error(kind: str, loc: tuple, msg: str, value: Any = None) -> dict[str, Any]:
    return {"type": kind, "loc": loc, "msg": msg, "input": plain(value)}


def _plain_error(error: dict[str, Any]) -> dict[str, Any]:
    """pydantic's error with ``body`` ahead of its location (FastAPI's convention) and only
    JSON values in it: a NaN ``input`` would make the 422 itself fail to render."""
    out = _error(error["type"], ("body", *error["loc"]), error["msg"], error.get("input"))
    if error.get("ctx"):
        out["ctx"] = {k: plain(v) if _is_json(v) else str(v) for k, v in error["ctx"].items()}
    return out


def plain(value: Any) -> Any:
    """``value`` with every non-finite float spelt as a string ("nan", "inf", "-inf")."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def _is_json(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool | list | dict)
