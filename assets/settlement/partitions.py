"""Monthly partitions of the settlement outputs: the pipeline's one `monthly` (assets/partitions.py)."""

from assets.partitions import monthly

__all__ = ["monthly"]
