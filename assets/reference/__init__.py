"""Reference data: operators and locations, the source of time zones and currencies."""

from assets.reference.assets import locations, operators

__all__ = ["locations", "operators"]
