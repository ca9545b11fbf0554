"""The transform registry: built-ins (one implementation per engine) and user functions.

Users register functions with :func:`transform`; nodes run them, and the built-ins, through
:func:`apply_transform`. A user function cannot take a built-in's name (built-ins include the
names the SPEC reserves for later releases); registering a user name again warns and replaces it.

Built-ins are registered per engine with :func:`register_builtin`, under one name and one params
model, so every engine gives a transform the same meaning and the same ``params:`` keys; the
built-ins of :mod:`~odibi_core.transforms.builtins.catalog` are registered on the first lookup.
"""

from __future__ import annotations

import inspect
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, overload

from pydantic import BaseModel, ValidationError

from odibi_core.error_taxonomy import is_transient
from odibi_core.errors import ConfigError, ConfigProblem, DataError, OdibiError, TransientError
from odibi_core.transforms.builtins.base import BuiltinFn, BuiltinTransform

if TYPE_CHECKING:
    from odibi_core.engines.base import Engine
    from odibi_core.storage.requests import Frame

__all__ = [
    "RESERVED_BUILTINS",
    "UserTransform",
    "apply_transform",
    "clear_user_transforms",
    "get_params_model",
    "list_transforms",
    "register_builtin",
    "transform",
    "validate_params",
]

F = TypeVar("F", bound=Callable[..., Any])

# Built-ins the SPEC names that a later release implements: user functions may not take them.
RESERVED_BUILTINS = frozenset({
    "pivot", "unpivot", "window_calculation", "generate_surrogate_key", "hash_columns",
    "parse_json", "scd2", "merge",
})
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class UserTransform:
    """A function registered with :func:`transform`."""

    name: str
    fn: Callable[..., Any]

    @property
    def where(self) -> str:
        return _where(self.fn)


_builtins: dict[str, dict[str, BuiltinTransform]] = {}
_user: dict[str, UserTransform] = {}


# ---- registration ------------------------------------------------------------------------------
@overload
def transform(fn: F, /) -> F: ...
@overload
def transform(name: str | None = None, /) -> Callable[[F], F]: ...


def transform(target: Any = None, /) -> Any:
    """Register a function as a transform usable as ``function: NAME`` or ``transformer: NAME``.

    The function takes the engine's native frame first and its ``params`` as keywords; it may
    also ask for ``tables`` (the other frames by name) and ``engine``. It is returned unchanged.

    Raises:
        ConfigError: the name is a built-in's (built-ins cannot be shadowed) or not an identifier.

    Example:
        >>> @transform
        ... def add_tax(df, rate: float = 0.2):
        ...     return df.assign(amount_with_tax=df["amount"] * (1 + rate))
        >>> @transform("tax")
        ... def add_tax_again(df, rate: float = 0.2):
        ...     return df
    """
    if callable(target):
        _register_user(target.__name__, target)
        return target
    if target is not None and not isinstance(target, str):
        raise TypeError("@transform takes a function or a name: @transform / @transform('name')")

    def decorate(fn: F) -> F:
        _register_user(target or fn.__name__, fn)
        return fn

    return decorate


def register_builtin(name: str, engine_name: str, fn: BuiltinFn,
                     params_model: type[BaseModel]) -> None:
    """Register ``engine_name``'s implementation of the built-in ``name``.

    Every engine registers the same ``params_model`` for a name: the params are the built-in's
    contract. Registering the same (name, engine) again replaces the implementation.
    """
    existing = _builtins.get(name, {})
    for other in existing.values():
        if other.params_model is not params_model and other.engine != engine_name:
            raise ValueError(f"Built-in '{name}' is registered with {other.params_model.__name__}"
                             f" on {other.engine}; every engine must use the same params model.")
    _builtins.setdefault(name, {})[engine_name] = BuiltinTransform(name, engine_name, fn,
                                                                    params_model)


def clear_user_transforms() -> None:
    """Forget every user function (tests, and reloading a project's ``transforms.py``)."""
    _user.clear()


def _register_user(name: str, fn: Callable[..., Any]) -> None:
    if not _NAME.match(name):
        raise ConfigError(ConfigProblem(
            message=f"@transform name '{name}' is not a valid name.",
            file=_file(fn), line=_line(fn),
            fix="Use letters, digits and underscores, starting with a letter.",
        ))
    if name in _known_builtins() or name in RESERVED_BUILTINS:
        raise ConfigError(ConfigProblem(
            message=f"@transform '{name}' would shadow the built-in transform '{name}'.",
            file=_file(fn), line=_line(fn),
            fix=f"Register it under another name: @transform(\"my_{name}\").",
        ))
    previous = _user.get(name)
    # The same project's transforms.py loaded again (Dagster reloads definitions) is no news.
    if previous is not None and _origin(previous.fn) != _origin(fn):
        warnings.warn(
            f"Transform '{name}' was already registered by {previous.where}; "
            f"{_where(fn)} replaces it.",
            UserWarning, stacklevel=3,
        )
    _user[name] = UserTransform(name, fn)


def _origin(fn: Callable[..., Any]) -> tuple[Path | None, str]:
    return _file(fn), getattr(fn, "__qualname__", repr(fn))


_catalog_registered = False


def _known_builtins() -> dict[str, dict[str, BuiltinTransform]]:
    """Every built-in, by name and engine. The catalog is registered on the first lookup, not
    when this module loads: its params models cost ~60 ms to build, which a command that
    looks up no transform (``odibi --help``, ``odibi story``) does not pay."""
    global _catalog_registered
    if not _catalog_registered:
        _catalog_registered = True
        from odibi_core.transforms.builtins.catalog import builtin_implementations

        for impl in builtin_implementations():
            register_builtin(impl.name, impl.engine, impl.fn, impl.params_model)
    return _builtins


# ---- lookup ------------------------------------------------------------------------------------
def list_transforms(engine_name: str | None = None) -> list[str]:
    """Built-ins available on ``engine_name`` (every engine when None) and user functions."""
    builtins = [n for n, impls in _known_builtins().items()
                if engine_name is None or engine_name in impls]
    return sorted({*builtins, *_user})


def get_params_model(name: str) -> type[BaseModel] | None:
    """The params model of built-in ``name`` (None for user functions and unknown names)."""
    impls = _known_builtins().get(name)
    return next(iter(impls.values())).params_model if impls else None


def validate_params(name: str, params: Mapping[str, Any] | None, *,
                    node: str | None = None) -> BaseModel | dict[str, Any]:
    """Check ``params`` against transform ``name``: the config loader can call it before a run.

    Returns the validated params model of a built-in, or the params of a user function.

    Raises:
        ConfigError: unknown transform, unknown or missing parameter, wrong value; every problem
            names the transform, the key, a did-you-mean and the valid keys.
    """
    params = dict(params or {})
    model = get_params_model(name)
    if model is not None:
        return _validate_builtin(name, model, params, node)
    if name in _user:
        _check_user_params(_user[name], params, node)
        return params
    raise ConfigError(_unknown_transform(name, node))


# ---- running -----------------------------------------------------------------------------------
def apply_transform(engine: Engine, name: str, frame: Frame | None, params: Mapping[str, Any],
                    tables: Mapping[str, Frame], *, node: str | None = None) -> Frame:
    """Run transform ``name`` (a built-in or a user function) on ``frame``.

    Args:
        engine: the engine the node runs on; built-ins use its implementation.
        name: the transform's name.
        frame: the node's current frame (None when the node has no input yet).
        params: the ``params:`` block.
        tables: the other frames by name (for ``join`` / ``union`` and user functions).
        node: ``pipeline.node``, for messages.

    Raises:
        ConfigError: unknown transform or bad params.
        DataError: the transform failed on the data (missing column, bad value, ...).
    """
    if name in _known_builtins():
        impl = _known_builtins()[name].get(engine.name)
        if impl is None:
            raise ConfigError(ConfigProblem(
                message=_in_node(node) + f"Built-in transform '{name}' is not available on the "
                        f"{engine.name} engine yet (available on: "
                        f"{', '.join(sorted(_known_builtins()[name]))}).",
                key_path="transform", fix="Use another engine or a SQL step.",
            ))
        model = _validate_builtin(name, impl.params_model, dict(params), node)
        if frame is None:
            raise DataError(f"Transform '{name}' needs an input frame, and this node has none.",
                            fix="Add a `read` block or a `depends_on` before this step.",
                            node=node)
        return _run(name, node, lambda: impl.fn(engine, frame, model, tables))
    if name in _user:
        user = _user[name]
        _check_user_params(user, dict(params), node)
        result = _run(name, node,
                      lambda: engine.call_function(user.fn, frame, dict(params), tables),
                      where=user.where, source=_file(user.fn))
        if result is None:
            raise DataError(f"Transform '{name}' ({user.where}) returned None.",
                            fix="Return the frame from the function.", node=node)
        return result
    if name in RESERVED_BUILTINS:
        raise ConfigError(ConfigProblem(
            message=_in_node(node) + f"Built-in transform '{name}' is not available in this "
                    "version yet.",
            key_path="transform", fix="Use a SQL step or a @transform function for now.",
        ))
    raise ConfigError(_unknown_transform(name, node))


def _run(name: str, node: str | None, call: Callable[[], Any], *, where: str | None = None,
         source: Path | None = None) -> Any:
    """``call()``; what it raises becomes an odibi error naming the transform (and, for a user
    function in ``source``, the line of it that raised: the CLI prints no traceback for it)."""
    origin = f"Transform '{name}'" + (f" ({where})" if where else "")
    try:
        return call()
    except ConfigError:
        raise
    except (DataError, TransientError) as exc:
        raise type(exc)(f"{origin}: {exc.message}", fix=exc.fix, node=node or exc.node) from exc
    except OdibiError:
        raise
    except Exception as exc:  # noqa: BLE001 - user code: translated, never swallowed
        at = _raised_at(exc, source)
        if is_transient(exc):
            raise TransientError(f"{origin} failed{at}: {type(exc).__name__}: {exc}",
                                 fix="This is retried automatically when retries are enabled.",
                                 node=node) from exc
        raise DataError(f"{origin} failed{at}: {type(exc).__name__}: {exc}",
                        fix="Fix the function or its params (the traceback is chained to this "
                            "error: the Dagster UI shows it, and so does `odibi run --verbose`).",
                        node=node) from exc


def _raised_at(exc: BaseException, source: Path | None) -> str:
    """`` at transforms.py:12`` — the last line of ``source`` the traceback of ``exc`` passes
    through (where the user's function raised, or called what raised); empty when none."""
    if source is None:
        return ""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename) == source:
            line = tb.tb_lineno
        tb = tb.tb_next
    return f" at {source.name}:{line}" if line is not None else ""


# ---- params ------------------------------------------------------------------------------------
def _validate_builtin(name: str, model: type[BaseModel], params: dict[str, Any],
                      node: str | None) -> BaseModel:
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        valid = _param_names(model)
        problems = []
        for error in exc.errors():
            key = ".".join(str(p) for p in error["loc"]) or "params"
            top = str(error["loc"][0]) if error["loc"] else ""
            if error["type"] == "extra_forbidden":
                close = get_close_matches(top, valid, n=1)
                hint = f" Did you mean '{close[0]}'?" if close else ""
                message = f"unknown parameter '{top}'.{hint}"
            elif error["type"] == "missing":
                message = f"missing required parameter '{key}'."
            else:
                message = f"parameter '{key}': {error['msg']}."
            problems.append(ConfigProblem(
                message=_in_node(node) + f"Transform '{name}': {message}",
                key_path=f"params.{key}" if error["loc"] else "params",
                fix=f"Valid parameters of {name}: {', '.join(valid)}.",
            ))
        raise ConfigError(problems) from exc


def _param_names(model: type[BaseModel]) -> list[str]:
    names = []
    for field_name, field in model.model_fields.items():
        names.append(field.alias or field_name)
    return names


def _check_user_params(user: UserTransform, params: dict[str, Any], node: str | None) -> None:
    signature = inspect.signature(user.fn)
    parameters = list(signature.parameters.values())
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return
    accepted = [p.name for p in parameters[1:]
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                and p.name not in ("tables", "engine")]
    problems = []
    for key in params:
        if key not in accepted:
            close = get_close_matches(key, accepted, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            problems.append(ConfigProblem(
                message=_in_node(node) + f"Transform '{user.name}' ({user.where}) has no "
                        f"parameter '{key}'.{hint}",
                key_path=f"params.{key}",
                fix=f"Valid parameters of {user.name}: {', '.join(accepted) or '(none)'}.",
            ))
    for p in parameters[1:]:
        required = p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        if required and p.name not in params and p.name not in ("tables", "engine"):
            problems.append(ConfigProblem(
                message=_in_node(node) + f"Transform '{user.name}' ({user.where}) needs the "
                        f"parameter '{p.name}'.",
                key_path=f"params.{p.name}", fix=f"Add `{p.name}:` to params.",
            ))
    if problems:
        raise ConfigError(problems)


def _unknown_transform(name: str, node: str | None) -> ConfigProblem:
    builtins = sorted(_known_builtins())
    users = sorted(_user)
    close = get_close_matches(name, [*builtins, *users], n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    fix = "Built-ins: " + ", ".join(builtins) + "."
    fix += (" Your functions: " + ", ".join(users) + "." if users
            else " Register your own with @transform in transforms.py beside the project file.")
    return ConfigProblem(message=_in_node(node) + f"Unknown transform '{name}'.{hint}",
                         key_path="transform", fix=fix)


# ---- small helpers ------------------------------------------------------------------------------
def _in_node(node: str | None) -> str:
    return f"Node {node}: " if node else ""


def _file(fn: Callable[..., Any]) -> Path | None:
    try:
        source = inspect.getsourcefile(fn)
    except TypeError:
        return None
    return Path(source) if source else None


def _line(fn: Callable[..., Any]) -> int | None:
    code = getattr(fn, "__code__", None)
    return code.co_firstlineno if code is not None else None


def _where(fn: Callable[..., Any]) -> str:
    file, line = _file(fn), _line(fn)
    if file is None:
        return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', fn)}"
    return f"{file.name}:{line}" if line else file.name
