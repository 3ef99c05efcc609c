"""Weighted A/B routing between served variants (``assay serve --variant REF=WEIGHT``).

A request that names a key (the ``X-Assay-Key`` header: a user, an account, a session)
always goes to the same variant: SHA-256 of the key, read as a number in [0, 1), picks
the variant whose share of [0, 1) holds it (shares laid out in the order the variants were
given). So a key keeps its variant across requests, restarts and replicas for as long as
the variants and weights stay the same. A request without a key takes a draw from a
``random.Random`` seeded by ``--route-seed`` (default 0): the split follows the weights,
and a restarted server with the same seed routes the same sequence of keyless requests the
same way.

Hand-written (a dozen lines): routing by weight is the load balancer's job in most stacks
(Envoy, nginx split_clients) and no Python library offers it as a part.
"""

from __future__ import annotations

import hashlib
import math
import random
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate

from assayml.errors import BadInputError

KEY_HEADER = "X-Assay-Key"


@dataclass(frozen=True)
class VariantSpec:
    ref: str  # a registry reference or a models folder, as given
    weight: float  # normalised: the weights of all variants sum to 1


def parse_variants(texts: list[str]) -> list[VariantSpec]:
    """``REF=WEIGHT`` options, weights normalised to sum to 1.

    Raises:
        BadInputError: (exit 2) naming the option that has no ``=``, a weight that is not a
            finite number of 0 or more, a reference given twice, or weights summing to 0.
    """
    specs: list[tuple[str, float]] = []
    for text in texts:
        ref, sep, weight_text = text.rpartition("=")
        if not sep or not ref:
            raise BadInputError(f"--variant {text!r}: give REF=WEIGHT, e.g. --variant churn@3=0.9")
        try:
            weight = float(weight_text)
        except ValueError:
            weight = math.nan
        if not (math.isfinite(weight) and weight >= 0):
            raise BadInputError(
                f"--variant {text!r}: the weight {weight_text!r} is not a finite number, 0 or more"
            )
        if ref in (s[0] for s in specs):
            raise BadInputError(f"--variant {text!r}: {ref} is given twice")
        specs.append((ref, weight))
    total = sum(w for _, w in specs)
    if specs and total <= 0:
        raise BadInputError(
            f"--variant: the weights ({', '.join(texts)}) sum to 0: give one a weight above 0"
        )
    return [VariantSpec(ref, weight / total) for ref, weight in specs]


def check_options(model: str | None, variants: Sequence[str]) -> list[VariantSpec] | None:
    """The variants' references and normalised weights (None: ``--model`` alone).

    Raises:
        BadInputError: (exit 2) ``--model`` and ``--variant`` both given, or a variant
            option that is not ``REF=WEIGHT`` with a weight of 0 or more (named).
    """
    if model is not None and variants:
        raise BadInputError(
            f"--model {model} and --variant: give the models to serve either as one --model "
            "or as --variant REF=WEIGHT options, not both"
        )
    return parse_variants(list(variants)) if variants else None


class Router:
    """Picks a variant index for each request (see the module's text)."""

    def __init__(self, weights: list[float], seed: int = 0) -> None:
        self.bounds = list(accumulate(weights))
        self.bounds[-1] = 1.0  # floating sums may fall short of 1 by an ulp
        self._random = random.Random(seed)

    def pick(self, key: str | None = None) -> int:
        if len(self.bounds) == 1:
            return 0
        point = self._random.random() if key is None else key_point(key)
        index = bisect_right(self.bounds, point)
        # a weight of 0 makes an empty share: bisect never lands on it except at 1.0 itself
        return min(index, len(self.bounds) - 1)


def key_point(key: str) -> float:
    """A key's place in [0, 1): the first 53 bits of its SHA-256, over 2**53 (exact)."""
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
    return (int.from_bytes(digest[:8], "big") >> 11) / 2.0**53
