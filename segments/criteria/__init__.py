"""Segment criteria: the catalogue of fields (``registry``), checking a tree against it
(``validate``) and compiling a tree to one SQL query (``compile``).

A criteria tree is ``{"all": [...]}``, ``{"any": [...]}``, ``{"not": {...}}`` or a condition
``{"field", "op", "value", "window_days"?}``. Fields are defined in field modules
(``segments.fields``, ``campaigns.segment_fields``, ``loyalty.segment_fields``) and registered
by their app's ``AppConfig.ready()``. The names other apps use are importable from here.
"""

from segments.criteria.compile import compare, criteria_compile
from segments.criteria.registry import (
    BOOL_OPS,
    DATE_OPS,
    NUMBER_OPS,
    PRODUCT,
    SET_OPS,
    TEXT_OPS,
    USER,
    Context,
    Field,
    catalogue,
    field_get,
    register_field,
    unregister_field,
)
from segments.criteria.validate import (
    MAX_CONDITIONS,
    MAX_DATE,
    MAX_DEPTH,
    MAX_ID,
    MAX_NUMBER,
    MAX_WINDOW_DAYS,
    MIN_DATE,
    CriteriaError,
    criteria_json,
    criteria_validate,
)

__all__ = [
    "BOOL_OPS",
    "DATE_OPS",
    "MAX_CONDITIONS",
    "MAX_DATE",
    "MAX_DEPTH",
    "MAX_ID",
    "MAX_NUMBER",
    "MAX_WINDOW_DAYS",
    "MIN_DATE",
    "NUMBER_OPS",
    "PRODUCT",
    "SET_OPS",
    "TEXT_OPS",
    "USER",
    "Context",
    "CriteriaError",
    "Field",
    "catalogue",
    "compare",
    "criteria_compile",
    "criteria_json",
    "criteria_validate",
    "field_get",
    "register_field",
    "unregister_field",
]
