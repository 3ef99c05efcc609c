"""What ``assay serve`` loads from its options: one model (``--model``) or weighted variants
(``--variant REF=WEIGHT``), an optional shadow (``--shadow REF``), and how each reference is
re-resolved when the registry moves it (``--reload-interval``, ``POST /admin/reload``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from assayml.errors import BadInputError, ConfigError
from assayml.serve.deployed import Deployed, load_deployed
from assayml.serve.fleet import Fleet, Loader, Variant
from assayml.serve.images import ImageModel
from assayml.serve.routing import check_options
from assayml.serve.server import placeholder

DEFAULT_NAME = "models"  # the variant's name when --model is not given


def build_fleet(
    model: str | None,
    variants: Sequence[str],
    shadow: str | None,
    registry: str | None,
    trust: Sequence[str],
    route_seed: int = 0,
    reload_s: float = 0.0,
) -> Fleet | ImageModel:
    """The fleet to serve, every model loaded (under the trust rules); an image model when
    ``--model`` names one (served alone, as before variants existed).

    Raises:
        BadInputError: (exit 2) naming the option and reference that cannot be loaded.
    """
    specs = check_options(model, variants)
    loader = Loader(lambda ref: resolve(ref, registry), lambda ref: load(ref, registry, trust))
    if specs is None:
        deployed = _load(model, registry, trust, "--model")
        if isinstance(deployed, ImageModel):
            if shadow is not None:
                raise ConfigError(
                    f"--shadow {shadow}: {deployed.lineage_id} is an image model; variants "
                    "and shadows serve table models"
                )
            return deployed
        live = [Variant(model or DEFAULT_NAME, model, "live", 1.0, placeholder(deployed))]
    else:
        live = []
        for spec in specs:
            deployed = _table(_load(spec.ref, registry, trust, "--variant"), "--variant")
            live.append(Variant(spec.ref, spec.ref, "live", spec.weight, placeholder(deployed)))
    shadow_variant = None
    if shadow is not None:
        deployed = _table(_load(shadow, registry, trust, "--shadow"), "--shadow")
        shadow_variant = Variant(shadow, shadow, "shadow", 0.0, placeholder(deployed))
    return Fleet(live, shadow_variant, route_seed, loader, reload_s)


def resolve(ref: str | None, registry: str | None) -> tuple[str, int] | None:
    """The (name, version) a registry reference names now; None for a folder."""
    if ref is None or Path(ref).is_dir():
        return None
    from assayml.registry.store import Registry

    doc = Registry(registry).resolve(ref)
    return doc["name"], doc["version"]


def load(ref: str | None, registry: str | None, trust: Sequence[str]) -> Deployed:
    return _table(_load(ref, registry, trust, "reload"), "reload")


def _load(ref: str | None, registry: str | None, trust: Sequence[str], option: str):
    try:
        return load_deployed(ref, registry, trust)
    except BadInputError as err:
        named = f"{option} {ref}" if ref is not None else option
        raise type(err)(f"{named}: {err}") from None


def _table(deployed, option: str) -> Deployed:
    if isinstance(deployed, ImageModel):
        raise ConfigError(
            f"{option}: {deployed.lineage_id} is an image model; variants and shadows "
            "serve table models (serve an image model alone with --model)"
        )
    return deployed
