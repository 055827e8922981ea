"""Serializer fields and the output base class every API resource uses.

An optional enum, URI or date that is unset is ``null`` in answers, and the schema says
so (``nullable``): never ``""``, which a client generated from the schema cannot read
as an enum value or a URI. Requests may send ``null``, or ``""`` (a deprecated alias,
accepted until v2); both are stored as the model's blank.
"""

from __future__ import annotations

import copy
from typing import Any

from django.db import models
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers


class _BlankAsNull:
    """Unset is ``""`` in the database and ``null`` on the wire."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["allow_null"] = True
        kwargs["allow_blank"] = True
        super().__init__(**kwargs)

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        if data is None or data == "":
            return True, ""
        return super().validate_empty_values(data)

    def to_representation(self, value: Any) -> Any:
        if value in ("", None):
            return None
        return super().to_representation(value)


class BlankAsNullChoiceField(_BlankAsNull, serializers.ChoiceField):
    """An optional enum: ``null`` when unset."""


class BlankAsNullURLField(_BlankAsNull, serializers.URLField):
    """An optional URI: ``null`` when unset."""


class BlankAsNullChoiceFieldSchema(OpenApiSerializerFieldExtension):
    """``{"allOf": [<the enum>], "nullable": true}``: the enum's component, or null."""

    target_class = BlankAsNullChoiceField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        plain = copy.deepcopy(self.target)
        plain.allow_null = plain.allow_blank = False
        schema = auto_schema._map_serializer_field(plain, direction, bypass_extensions=True)
        if "$ref" in schema:
            schema = {"allOf": [schema]}
        return {**schema, "nullable": True}


class BlankAsNullURLFieldSchema(OpenApiSerializerFieldExtension):
    target_class = BlankAsNullURLField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        return {"type": "string", "format": "uri", "nullable": True}


class ModelOutput(serializers.ModelSerializer):
    """Base of every output serializer: optional enums and URIs of the model answer ``null``
    when unset, and every nullable column is declared nullable."""

    def build_standard_field(self, field_name: str, model_field: models.Field) -> tuple[type, dict]:
        field_class, kwargs = super().build_standard_field(field_name, model_field)
        if model_field.choices and model_field.blank:
            field_class = BlankAsNullChoiceField
            kwargs.pop("allow_blank", None)
            kwargs.pop("allow_null", None)
        elif isinstance(model_field, models.URLField) and model_field.blank:
            field_class = BlankAsNullURLField
            kwargs.pop("allow_blank", None)
            kwargs.pop("allow_null", None)
        elif model_field.null:
            kwargs["allow_null"] = True
        return field_class, kwargs
