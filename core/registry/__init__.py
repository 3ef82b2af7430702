"""The registry: one GeoPackage file or PostGIS database of a region's emergency resources.

:class:`Registry` (create, open, read, write, history), :class:`Batch` (one transaction of checked,
stamped changes), :class:`Feature` and :class:`Change` (what it hands out). See :mod:`.registry`.
"""

from .batch import Batch
from .registry import Clock, Registry
from .types import Change, Feature, adcode_prefix

__all__ = ["Batch", "Change", "Clock", "Feature", "Registry", "adcode_prefix"]
