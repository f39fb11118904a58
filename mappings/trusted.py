"""Building pydantic models from values already checked, without validating them again.

The hot path (a review file of 100,000 reviews) builds a few dozen models per review; pydantic
validation costs more than all the planning logic, and `model_construct` costs more still
(measured with pydantic 2.14: about 0.6 µs per `Rating` here, 2.8 µs validated, 7.8 µs with
`model_construct`). So `trusted_maker` fills a model's four slots directly.

That writes pydantic's private slots, so it is confined to this one helper, which:
- checks at import time that `BaseModel` still has exactly the slots it fills, and fails with
  a clear message if a pydantic upgrade changed them;
- refuses models whose slots would need more than a plain dict (private attributes, extra
  fields allowed), since those it would build wrong;
- is pinned to the pydantic range in pyproject.toml, and `tests/unit/test_trusted.py` checks
  that what it builds equals the validated model slot by slot, so an incompatible upgrade
  fails the tests rather than the planner.

Only for values that come from validated models or were checked by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pydantic
from pydantic import BaseModel

_Model = TypeVar("_Model", bound=BaseModel)

#: The slots every pydantic v2 model has, all of which `trusted_maker` fills.
MODEL_SLOTS = ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__",
               "__pydantic_private__")

if tuple(BaseModel.__slots__) != MODEL_SLOTS:  # pragma: no cover - only on a pydantic upgrade
    raise ImportError(
        f"mappings.trusted does not support pydantic {pydantic.VERSION}: BaseModel's slots are "
        f"{BaseModel.__slots__}, expected {MODEL_SLOTS}; keep pydantic in pyproject.toml's range"
    )

_new = object.__new__
# Set through the slots' own descriptors: no `__setattr__` hooks (the models are frozen).
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def trusted_maker(cls: type[_Model]) -> Callable[[dict[str, Any]], _Model]:
    """A builder of `cls` models from a dict that holds every field, in declaration order (the
    order `repr` shows); the dict becomes the model's own `__dict__`.

    All models a builder makes share one fields-set object; pydantic copies it before changing
    it (`model_copy(update=...)`), so sharing is safe and saves a set per model.
    """
    if cls.__private_attributes__:
        raise TypeError(f"trusted_maker({cls.__name__}): models with private attributes "
                        "need pydantic's own construction")
    if cls.model_config.get("extra") == "allow":
        raise TypeError(f"trusted_maker({cls.__name__}): models that allow extra fields need "
                        "pydantic's own construction")
    fields_set = set(cls.model_fields)

    def make(values: dict[str, Any]) -> _Model:
        model = _new(cls)
        _set_dict(model, values)
        _set_fields_set(model, fields_set)
        _set_extra(model, None)
        _set_private(model, None)
        return model

    make.__name__ = make.__qualname__ = f"trusted_{cls.__name__}"
    return make
