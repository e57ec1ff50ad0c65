"""The base of Shipshape's pydantic models."""

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    """A pydantic model whose validator and serializer are built when first used, not when
    the class is defined (``defer_build``): one layer serves six functions, and each function's
    cold start then pays only for the models it uses (docs/PERFORMANCE.md). A subclass's own
    ``model_config`` is merged with this one."""

    model_config = ConfigDict(defer_build=True)
