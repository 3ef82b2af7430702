"""The registry: one GeoPackage file or PostGIS database of a region's emergency resources.

:class:`Registry` (create, open, read, write, history), :class:`Batch` (one transaction of checked,
stamped changes), :class:`Feature`, :class:`Change` and :class:`MergeConflict` (what it hands out). See :mod:`.registry`.
"""

from .batch import Batch
from .conflicts import ConflictNotFoundError, ConflictResolvedError, MergeConflict
from .registry import Clock, Registry
from .types import Change, Feature, adcode_prefix

__all__ = ["Batch", "Change", "Clock", "ConflictNotFoundError", "ConflictResolvedError", "Feature", "MergeConflict",
           "Registry", "adcode_prefix"]
