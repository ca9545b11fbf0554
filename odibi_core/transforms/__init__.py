"""Transforms: the ``@transform`` registry, the built-ins and how nodes run them."""

from odibi_core.transforms.registry import (
    apply_transform,
    clear_user_transforms,
    list_transforms,
    register_builtin,
    transform,
    validate_params,
)

__all__ = [
    "apply_transform",
    "clear_user_transforms",
    "list_transforms",
    "register_builtin",
    "transform",
    "validate_params",
]
