"""What Litestar's OpenAPI generation gets wrong about core's wire Structs, made right.

A Struct declared ``array_like=True`` (core's :class:`~opendata_core.documents.Block`) is sent
as a JSON array, ``[length, "sha256"]``, but Litestar documents every Struct as an object with
named properties, so a client generated from the schema (or schemathesis) expects the wrong
shape. :class:`ArrayLikeStructSchema` documents it as msgspec encodes it: an array with one
``prefixItems`` entry per field, in order.

A constrained scalar (``Annotated[int, msgspec.Meta(ge=0)]``, core's ``Count``) loses its
constraint in Litestar's schema where it is not a Struct field itself (the values of
``null_counts: dict[str, Count]``), so the document allowed what the decoder refuses.
:class:`ConstrainedScalarSchema` documents every such scalar from msgspec's own JSON Schema.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import msgspec
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.plugins import OpenAPISchemaPlugin
from litestar.typing import FieldDefinition

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator

__all__ = ["ArrayLikeStructSchema", "ConstrainedScalarSchema"]

_SCALARS: Final = (int, float, str)
_KEYWORDS: Final = {  # msgspec's JSON Schema keyword -> Litestar's Schema field
    "minimum": "minimum",
    "maximum": "maximum",
    "exclusiveMinimum": "exclusive_minimum",
    "exclusiveMaximum": "exclusive_maximum",
    "multipleOf": "multiple_of",
    "minLength": "min_length",
    "maxLength": "max_length",
    "pattern": "pattern",
    "format": "format",
    "title": "title",
    "description": "description",
}


def _is_array_like(annotation: Any) -> bool:
    return (
        isinstance(annotation, type)
        and issubclass(annotation, msgspec.Struct)
        and bool(annotation.__struct_config__.array_like)
    )


class ArrayLikeStructSchema(OpenAPISchemaPlugin):
    """OpenAPI schema plugin: an ``array_like`` Struct is an array of its fields' values."""

    @staticmethod
    def is_plugin_supported_type(value: Any) -> bool:
        """Whether ``value`` is a Struct encoded as an array."""
        return _is_array_like(value)

    def to_openapi_schema(
        self, field_definition: FieldDefinition, schema_creator: SchemaCreator
    ) -> Schema:
        """``{"type": "array", "prefixItems": [<field 1>, …], "minItems": …, "maxItems": …}``."""
        struct = field_definition.annotation
        fields = msgspec.structs.fields(struct)
        required = sum(
            1
            for f in fields
            if f.default is msgspec.NODEFAULT and f.default_factory is msgspec.NODEFAULT
        )
        return Schema(
            type=OpenAPIType.ARRAY,
            title=struct.__name__,
            description=(struct.__doc__ or "").split("\n\n")[0].strip() or None,
            prefix_items=[
                schema_creator.for_field_definition(FieldDefinition.from_annotation(f.type))
                for f in fields
            ],
            min_items=required,
            max_items=len(fields),
        )


class ConstrainedScalarSchema(OpenAPISchemaPlugin):
    """OpenAPI schema plugin: an ``int``/``float``/``str`` annotated with ``msgspec.Meta``."""

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        """Whether the field is a scalar carrying a ``msgspec.Meta``."""
        return field_definition.annotation in _SCALARS and any(
            isinstance(m, msgspec.Meta) for m in field_definition.metadata
        )

    def to_openapi_schema(
        self, field_definition: FieldDefinition, schema_creator: SchemaCreator
    ) -> Schema:
        """The scalar's schema as msgspec writes it (``{"type": "integer", "minimum": 0}``)."""
        written = msgspec.json.schema(field_definition.raw)
        kwargs: dict[str, Any] = {
            field: written[keyword] for keyword, field in _KEYWORDS.items() if keyword in written
        }
        return Schema(type=OpenAPIType(written["type"]), **kwargs)
