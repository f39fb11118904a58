"""Building pydantic models from values already checked, without validating them again.

The hot path (a review file of 100,000 reviews) builds a few dozen models per review; pydantic
validation, and even `model_construct`, cost more than all the planning logic. These builders
set a model's slots directly, and are only for values that come from validated models or were
checked by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel

_Model = TypeVar("_Model", bound=BaseModel)
_new = object.__new__
# The slots every pydantic model has, set through their descriptors: no `__setattr__` hooks.
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__
_FIELD_DEFAULTS: dict[type[BaseModel], tuple[int, dict[str, Any]]] = {}


def trusted(cls: type[_Model], **values: Any) -> _Model:
    """A `cls` model holding `values`; fields left out take their (non-factory) defaults."""
    known = _FIELD_DEFAULTS.get(cls)
    if known is None:
        fields = cls.model_fields
        defaults = {
            name: field.get_default(call_default_factory=False)
            for name, field in fields.items()
            if not field.is_required() and field.default_factory is None
        }
        known = _FIELD_DEFAULTS[cls] = (len(fields), defaults)
    fields_set = set(values)
    if len(values) != known[0]:
        values = {**known[1], **values}
    model = _new(cls)
    _set_dict(model, values)
    _set_fields_set(model, fields_set)
    _set_extra(model, None)
    _set_private(model, None)
    return model


def trusted_maker(cls: type[_Model]) -> Callable[[dict[str, Any]], _Model]:
    """`trusted` for the hottest loops: a builder of `cls` models from a dict that holds every
    field, in declaration order (the order `repr` shows); the dict becomes the model's own
    `__dict__`.

    All models a builder makes share one fields-set object; pydantic copies it before changing
    it (`model_copy(update=...)`), so sharing is safe and saves a set per model.
    """
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
