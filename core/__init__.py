"""Rallypoint: one registry of a region's emergency resources.

The public API::

    from rallypoint import Registry
    reg = Registry.create("county.gpkg", name="示例县应急资源", bureau="示例县应急管理局")
    f = reg.add("shelters", {...}, geometry, author="zhang.wei")
"""

from .errors import (
    ConflictError,
    DefinitionError,
    FeatureNotFoundError,
    Problem,
    RallypointError,
    RegistryFileError,
    UnknownLayerError,
    ValidationError,
)
from .registry import Batch, Change, Feature, Registry
from .schema import RESOURCE_LAYERS, FieldDef, LayerDef, builtin_layers

__version__ = "0.1.0"

__all__ = [
    "Batch", "Change", "ConflictError", "DefinitionError", "Feature", "FeatureNotFoundError", "FieldDef",
    "LayerDef", "Problem", "RESOURCE_LAYERS", "RallypointError", "Registry", "RegistryFileError",
    "UnknownLayerError", "ValidationError", "builtin_layers",
]
