"""Regularisers by name: what fills the model's regulariser slots, recorded with the model.

Every ``BN -> ReLU`` of the temporal ConvNet is followed by a regulariser slot (see
:mod:`dilpose.model`). Which module fills it is part of what a model *is*: a regulariser that acts
at evaluation time (a pruning mask, say) changes the outputs of a trained model, so a checkpoint
that did not say which regulariser it was trained with would be evaluated wrongly without an error.
Hence a regulariser is a :class:`Regularizer` value, a name and its parameters, that
:class:`~dilpose.model.ModelConfig` carries and checkpoints store, and a registry turns it back into
modules:

    >>> spec = Regularizer.parse("dropout(p=0.25)")
    >>> make = build(spec)          # channels -> nn.Module, called once per slot
    >>> str(spec)
    'dropout(p=0.25)'

Built in: ``dropout(p)`` (the paper's baseline, element-wise, inverted scaling), ``none`` and
``prune(rate, over, rescale, at_eval)``, the paper's pruning layer read as activation pruning
(:mod:`dilpose.pruning`, notebook 03). Another one is a :func:`register` call.

A slot's module receives a tensor whose **dim 1 is the channel axis** (``(N, C, T)`` in the
whole-sequence path, ``(N * T', C)`` in the strided path), the contract of ``nn.BatchNorm1d``.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError

#: ``channels -> nn.Module``: what the model calls once per regulariser slot.
RegularizerFactory = Callable[[int], Any]


@dataclass(frozen=True)
class Regularizer:
    """A regulariser by name and parameters, e.g. ``Regularizer("dropout", {"p": 0.25})``.

    Immutable and comparable; ``str()`` gives the canonical text form ``dropout(p=0.25)`` that
    :meth:`parse` reads back. Parameters are plain numbers, strings or booleans (they go into
    checkpoints and cache keys).
    """

    name: str = "dropout"
    params: dict = field(default_factory=lambda: {"p": 0.25})

    def __post_init__(self):
        if not isinstance(self.name, str) or not re.fullmatch(r"[a-z_][a-z0-9_]*", self.name):
            raise ConfigError(f"a regulariser name is a lower-case identifier, got {self.name!r}")
        if not isinstance(self.params, dict):
            raise ConfigError(
                f"regulariser {self.name!r}: params should be a dict, "
                f"got {type(self.params).__name__}"
            )
        for key, value in self.params.items():
            if (
                not isinstance(key, str)
                or isinstance(value, (dict, list, tuple, set))
                or not isinstance(value, (int, float, str, bool, type(None)))
            ):
                raise ConfigError(
                    f"regulariser {self.name!r}: parameter {key!r} = {value!r} is not a plain value"
                )
        # Canonical order, so that equal regularisers print, compare and hash equally.
        object.__setattr__(self, "params", dict(sorted(self.params.items())))

    def __hash__(self):
        return hash((self.name, tuple(self.params.items())))

    def __str__(self) -> str:
        if not self.params:
            return self.name
        return f"{self.name}({', '.join(f'{k}={v!r}' for k, v in self.params.items())})"

    def to_dict(self) -> dict:
        return {"name": self.name, "params": dict(self.params)}

    @classmethod
    def from_value(cls, value) -> Regularizer:
        """A :class:`Regularizer` from itself, a dict ``{"name", "params"}`` or the text form."""
        if isinstance(value, Regularizer):
            return value
        if isinstance(value, str):
            return cls.parse(value)
        if isinstance(value, dict):
            unknown = set(value) - {"name", "params"}
            if "name" not in value or unknown:
                raise ConfigError(
                    "a regulariser dict has 'name' and 'params', "
                    f"got keys {sorted(map(str, value))}"
                )
            return cls(value["name"], dict(value.get("params") or {}))
        raise ConfigError(
            f"a regulariser is a name like 'dropout(p=0.25)' or a dict, got {type(value).__name__}"
        )

    @classmethod
    def parse(cls, text: str) -> Regularizer:
        """``"none"``, ``"dropout"``, ``"dropout(p=0.1)"``, ``"pruning(rate=0.3, where='all')"``."""
        m = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?\s*", text)
        if not m:
            raise ConfigError(f"cannot read regulariser {text!r}; write it like 'dropout(p=0.25)'")
        name, args = m.group(1).lower(), (m.group(2) or "").strip()
        params: dict[str, Any] = {}
        if args:
            try:
                call = ast.parse(f"f({args})", mode="eval").body
                assert isinstance(call, ast.Call) and not call.args
                params = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
            except (SyntaxError, ValueError, AssertionError):
                raise ConfigError(
                    f"cannot read the parameters of regulariser {text!r}; write them as "
                    "name=value, e.g. 'dropout(p=0.25)'"
                ) from None
        if name not in _REGISTRY:  # only the name: the defaults fill in what is not given
            return cls(name, params)
        return cls(name, {**_REGISTRY[name].defaults, **params})


@dataclass(frozen=True)
class _Entry:
    builder: Callable[..., RegularizerFactory]  # builder(**params) -> factory
    defaults: dict
    doc: str
    check: Callable[..., None] | None  # check(**params): ConfigError if a value is out of range


_REGISTRY: dict[str, _Entry] = {}


def register(
    name: str,
    builder: Callable[..., RegularizerFactory],
    defaults: dict | None = None,
    doc: str = "",
    check: Callable[..., None] | None = None,
    replace: bool = False,
) -> None:
    """Add a regulariser: ``builder(**params)`` returns a factory ``channels -> nn.Module``.

    ``defaults`` lists every parameter the builder takes, with its default; :func:`build` refuses
    parameters it does not list. ``check(**params)`` (optional) raises ConfigError for values out of
    range without building anything, so a config can be validated without importing torch. A name
    is registered once unless ``replace=True``.
    """
    if name in _REGISTRY and not replace:
        raise ConfigError(f"regulariser {name!r} is registered already")
    _REGISTRY[name] = _Entry(builder, dict(defaults or {}), doc, check)


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def names() -> list[str]:
    return sorted(_REGISTRY)


def validate(spec) -> Regularizer:
    """``spec`` as a :class:`Regularizer` with its defaults filled in, checked against the registry
    (name, parameter names, value ranges) without building modules. ConfigError if it cannot
    work."""
    spec = Regularizer.from_value(spec)
    entry = _REGISTRY.get(spec.name)
    if entry is None:
        raise ConfigError(f"unknown regulariser {spec.name!r}; known: {names()}")
    unknown = set(spec.params) - set(entry.defaults)
    if unknown:
        raise ConfigError(
            f"regulariser {spec.name!r} has no parameter(s) {sorted(unknown)}; "
            f"it takes {sorted(entry.defaults) or 'none'}"
        )
    spec = Regularizer(spec.name, {**entry.defaults, **spec.params})
    if entry.check is not None:
        entry.check(**spec.params)
    return spec


def build(spec) -> RegularizerFactory:
    """The factory ``channels -> nn.Module`` of a :class:`Regularizer` (or its text / dict form).

    A :class:`Regularizer` is taken as validated (a ModelConfig validated its own, once); the text
    and dict forms are validated here. Raises :class:`~dilpose.errors.ConfigError` for an unknown
    name, parameter or value.
    """
    if not isinstance(spec, Regularizer):
        spec = validate(spec)
    return _REGISTRY[spec.name].builder(**spec.params)


def _check_dropout(p) -> None:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
        raise ConfigError(f"dropout(p): p must be a probability in [0, 1), got {p!r}")


@functools.cache
def _dropout_class() -> type:
    # torch is imported when a model is built, not when this module is: configs validate, and the
    # CLI starts, without it (0.3 s instead of 2.5 s). So the class is made on first use, once;
    # ``regularizers.Dropout`` names it (module ``__getattr__`` below).
    import torch
    from torch import nn

    class Dropout(nn.Dropout):
        """Inverted element-wise dropout, the same as :class:`torch.nn.Dropout`, with the mask
        drawn by ``rand_like`` instead of ``bernoulli_``: the same distribution, but about twice as
        fast on CPU (torch 2.13's ``bernoulli_`` runs on one thread), and dropout was ~40 % of a
        training step. Input: any shape; output: the same."""

        def forward(self, x):
            if not self.training or self.p == 0.0:
                return x
            keep = torch.rand_like(x) >= self.p
            return x * keep * (1.0 / (1.0 - self.p))

    Dropout.__module__, Dropout.__qualname__ = __name__, "Dropout"
    return Dropout


def __getattr__(name: str):
    if name == "Dropout":
        return _dropout_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _dropout(p: float) -> RegularizerFactory:
    dropout = _dropout_class()
    return lambda channels: dropout(float(p))


def _none() -> RegularizerFactory:
    from torch import nn

    return lambda channels: nn.Identity()


register(
    "dropout",
    _dropout,
    {"p": 0.25},
    "element-wise dropout with probability p (training only)",
    check=_check_dropout,
)
register("none", _none, {}, "no regularisation (identity)")


def _check_prune(rate, over, rescale, at_eval) -> None:
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
        raise ConfigError(f"prune(rate): rate must be a fraction in [0, 1), got {rate!r}")
    if over not in ("all", "nonzero"):
        raise ConfigError(f"prune(over): 'all' or 'nonzero', got {over!r}")
    for name, value in (("rescale", rescale), ("at_eval", at_eval)):
        if not isinstance(value, bool):
            raise ConfigError(f"prune({name}): True or False, got {value!r}")


def _prune(rate: float, over: str, rescale: bool, at_eval: bool) -> RegularizerFactory:
    # lazy: pruning needs torch; a config is validated without importing it
    from .pruning import ActivationPruning

    return lambda channels: ActivationPruning(rate, over, rescale, at_eval)


register(
    "prune",
    _prune,
    {"rate": 0.25, "over": "nonzero", "rescale": True, "at_eval": False},
    "the paper's pruning layer, read as activation pruning: per sample and time step, zero the "
    "fraction `rate` of smallest activations (dilpose.pruning)",
    check=_check_prune,
)
