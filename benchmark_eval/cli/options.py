"""A command's options from its settings class: flags, help and env vars said once, in the
class's `setting(...)` declarations, the way RunSettings declares `run`'s.

`command_options` gives typer the parameters (every option arrives as given, None when not
given), and `parse_options` reads the declared env vars, lets the flags win, and validates with
the class, so a bad value is one line with its fix-it hint (settings.parse_settings).
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Optional, TypeVar

import typer
from pydantic import BaseModel

from ..settings import declaration, parse_settings, process_env, values_from_env

Options = TypeVar("Options", bound=BaseModel)


def _typer_annotation(annotation: Any) -> Any:
    """bool stays a switch and a fixed-length tuple keeps its arity; everything else reaches
    typer as text, and the settings class converts and checks it."""
    if annotation is bool:
        return bool
    inner = [a for a in typing.get_args(annotation) if a is not type(None)] if isinstance(annotation, types.UnionType) else [annotation]
    if inner and typing.get_origin(inner[0]) is tuple and Ellipsis not in typing.get_args(inner[0]):
        return Optional[inner[0]]  # noqa: UP045 - typer needs Optional
    return Optional[str]  # noqa: UP045


def command_options(model: type[BaseModel]) -> list[inspect.Parameter]:
    """typer parameters for every declared field of `model` (keyword-only, default None)."""
    parameters = []
    for name, field in model.model_fields.items():
        declared = declaration(model, name)
        if not declared:
            continue
        text = declared["help"] + (f" (env {declared['env']})" if declared.get("env") else "")
        if field.default not in (None, Ellipsis, False) and field.default_factory is None and "default" not in declared["help"]:
            text += f" [default: {field.default}]"
        annotation = _typer_annotation(field.annotation)
        default = typer.Option(field.default if annotation is bool else None, *declared["flags"], help=text, show_default=annotation is bool)
        parameters.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default))
    return parameters


def with_options(model: type[BaseModel]) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command `model`'s options after its own (positional) parameters."""
    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        own = [p for p in inspect.signature(command).parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        command.__signature__ = inspect.Signature([*own, *command_options(model)])  # type: ignore[attr-defined]
        return command
    return decorate


def parse_options(model: type[Options], given: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Options:
    """`model` from its declared env vars, with the flags given winning; one line when invalid."""
    values: dict[str, Any] = values_from_env(model, process_env() if env is None else env)
    values.update({k: v for k, v in given.items() if v is not None and k in model.model_fields})
    return parse_settings(model, values)
