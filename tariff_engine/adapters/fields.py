"""Reading JSON fields strictly, shared by every tariff adapter.

Each adapter raises its own error type (carrying the JSON path), so the helpers take the error class.
"""

from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

ErrorFactory = Callable[[str, str], Exception]  # (json path, message) -> exception


def json_decimal(value: Any, path: str, error: ErrorFactory, *, minimum: Decimal | None = None) -> Decimal:
    """A JSON number (or numeric string) as an exact Decimal, via its text; refuses bools, NaN, infinity."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise error(path, f"expected a number, got {value!r}")
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise error(path, f"not a number: {value!r}") from None
    if not result.is_finite():
        raise error(path, f"not a finite number: {value!r}")
    if minimum is not None and result < minimum:
        raise error(path, f"must be >= {minimum}, got {value!r}")
    return result


def json_object(value: Any, path: str, allowed: set[str], error: ErrorFactory) -> Mapping[str, Any]:
    """A JSON object whose keys are all known: an unknown field is refused by path, never ignored."""
    if not isinstance(value, Mapping):
        raise error(path, "expected an object")
    for key in value:
        if key not in allowed:
            raise error(f"{path}.{key}", "unknown or unsupported field")
    return value
