"""Typed tool and LLM calls: your functions take and return Python objects
(dataclasses, pydantic models, TypedDicts, enums, plain types) while the
runtime, the middleware and the recorded events see JSON.

A ``Codec[T]`` converts between a type and JSON (``to_json`` / ``from_json``).
``codec_for(tp)`` builds one from a type annotation; ``DataclassCodec``,
``PydanticCodec``, ``JsonPassthrough`` and ``BestEffortAnyCodec`` are the
codecs NeMo Relay's ``typed`` module has, with the same names and behaviour.
A value that does not fit its type raises ``ConversionError`` naming the
field (``items[2].price``) and the type that was expected.

``tool_execute`` encodes the caller's args, decodes them again for the tool
function (after request intercepts changed the JSON), encodes the function's
result for the end event and decodes it for the caller.  ``llm_execute`` and
``llm_stream_execute`` do the same for responses and stream chunks.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import hashlib
import hmac
import importlib
import inspect
import json
import os
import pickle
import sys
import threading
import types
import typing
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar, cast

from . import llm, tools
from ._native import LLMRequest, ScopeHandle
from ._types import Json, LLMAttributes, ToolAttributes
from .llm import LlmStream

if typing.TYPE_CHECKING:
    from .codecs import LlmCodec, LlmResponseCodec

__all__ = [
    "BestEffortAnyCodec",
    "Codec",
    "ConversionError",
    "DataclassCodec",
    "JsonPassthrough",
    "PydanticCodec",
    "codec_for",
    "llm_execute",
    "llm_stream_execute",
    "register_codec",
    "tool_execute",
    "type_name",
]

T = TypeVar("T")
TArgs = TypeVar("TArgs")
TResult = TypeVar("TResult")
TResponse = TypeVar("TResponse")
TResponseChunk = TypeVar("TResponseChunk")


# ---- errors and names ---------------------------------------------------------------


def type_name(tp: object) -> str:
    """A short readable name for a type or annotation (``list[Item] | None``)."""
    if tp is type(None) or tp is None:
        return "None"
    if tp is Any:
        return "Any"
    origin = typing.get_origin(tp)
    if origin is not None:
        args = typing.get_args(tp)
        if origin in (typing.Union, types.UnionType):
            return " | ".join(type_name(a) for a in args)
        if origin is typing.Literal:
            return "Literal[" + ", ".join(repr(a) for a in args) + "]"
        base = getattr(origin, "__name__", repr(origin))
        return f"{base}[{', '.join('...' if a is Ellipsis else type_name(a) for a in args)}]"
    return getattr(tp, "__qualname__", None) or getattr(tp, "__name__", None) or repr(tp)


def _describe(value: object) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


class ConversionError(ValueError):
    """A value does not fit the type it is converted to or from.

    ``path`` says where (``""`` for the value itself, ``"items[2].price"``
    for a nested field), ``expected`` names the type, ``value`` is what was
    found there.
    """

    def __init__(self, path: str, expected: str, value: object, detail: str | None = None,
                 context: str | None = None) -> None:
        self.path = path
        self.expected = expected
        self.value = value
        self.detail = detail
        self.context = context
        where = " ".join(p for p in (context, path) if p) or "value"
        message = f"{where}: expected {expected}, got {_describe(value)}"
        super().__init__(f"{message} ({detail})" if detail else message)

    def within(self, context: str) -> ConversionError:
        """The same error, said to happen in ``context`` (e.g. "tool 'search' args")."""
        error = ConversionError(self.path, self.expected, self.value, self.detail, context)
        error.__cause__ = self.__cause__
        return error


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


# ---- the runtime type registry (BestEffortAnyCodec's tags) -------------------------------

# Tagged values name their class by module and qualname; a class that cannot
# be imported back (one defined in a function) is found through this
# registry, keyed by name and id, while the class is alive.
_RUNTIME_TYPE_REGISTRY: weakref.WeakValueDictionary[str, type[object]] = weakref.WeakValueDictionary()
_NO_RECONSTRUCTION = object()


def _register_runtime_type(type_obj: type[object]) -> str:
    token = f"{type_obj.__module__}.{type_obj.__qualname__}:{id(type_obj)}"
    _RUNTIME_TYPE_REGISTRY[token] = type_obj
    return token


def _resolve_runtime_type(token: object) -> type[object] | None:
    if not isinstance(token, str):
        return None
    found = _RUNTIME_TYPE_REGISTRY.get(token)
    return found if isinstance(found, type) else None


def _resolve_importable_type(path: object) -> type[object] | None:
    """The class named ``module.qualname``, if it can be imported."""
    if not isinstance(path, str) or not path:
        return None
    parts = path.split(".")
    for split in range(len(parts) - 1, 0, -1):
        attrs = parts[split:]
        if "<locals>" in attrs:
            continue
        try:
            obj: object = importlib.import_module(".".join(parts[:split]))
            for attr in attrs:
                obj = getattr(obj, attr)
        except (ImportError, AttributeError):
            continue
        if isinstance(obj, type):
            return obj
    return None


# ---- JSON encoding of arbitrary values ---------------------------------------------------


def _serialize_dataclass_instance(value: Any) -> Json:
    # None fields are left out, as NeMo Relay does; decoding fills them in again.
    out: dict[str, Json] = {}
    for f in dataclasses.fields(value):
        item = getattr(value, f.name)
        if item is not None:
            out[f.name] = _serialize_value(item)
    return out


def _serialize_value(value: object) -> Json:
    """Dataclasses, pydantic models and enums (also nested in lists and
    dicts) as JSON; anything else unchanged."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _serialize_dataclass_instance(value)
    if isinstance(value, enum.Enum):
        return _serialize_value(value.value)
    if isinstance(value, (list, tuple)):
        return [_serialize_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _serialize_value(v) for k, v in value.items()}
    dump = getattr(value, "model_dump", None)
    if dump is not None and not isinstance(value, type):
        try:
            return dump(mode="json")
        except Exception:  # not a pydantic model after all: leave it as it is
            pass
    return value


# ---- codecs --------------------------------------------------------------------------


class Codec(Generic[T]):
    """Converts between values of ``T`` and JSON.  Subclass it and implement
    both methods for a type of your own."""

    def to_json(self, value: T) -> Json:
        raise NotImplementedError

    def from_json(self, data: Json) -> T:
        raise NotImplementedError


class JsonPassthrough(Codec[Json]):
    """For callers that already work with JSON: both directions return the
    value itself."""

    def to_json(self, value: Json) -> Json:
        return value

    def from_json(self, data: Json) -> Json:
        return data


class _TypeCodec(Codec[T]):
    """A codec driven by a type annotation (see ``codec_for``)."""

    def __init__(self, tp: Any) -> None:
        _check_supported(tp, set())
        self._type = tp

    def to_json(self, value: T) -> Json:
        return _encode(self._type, value, "")

    def from_json(self, data: Json) -> T:
        return cast(T, _decode(self._type, data, ""))

    def __repr__(self) -> str:
        return f"codec_for({type_name(self._type)})"


class DataclassCodec(_TypeCodec[T]):
    """A dataclass, its fields converted by their annotations (nested
    dataclasses, enums, optional fields, lists and dicts of them)."""

    def __init__(self, dc_cls: type[T]) -> None:
        if not (isinstance(dc_cls, type) and dataclasses.is_dataclass(dc_cls)):
            raise TypeError(f"DataclassCodec needs a dataclass, not {type_name(dc_cls)}")
        super().__init__(dc_cls)


class PydanticCodec(_TypeCodec[T]):
    """A pydantic model (anything with ``model_validate`` and ``model_dump``);
    pydantic itself validates, and its errors are reported as
    ``ConversionError`` with the field it names."""

    def __init__(self, model_cls: type[T]) -> None:
        if not _is_pydantic_model(model_cls):
            raise TypeError(f"PydanticCodec needs a class with model_validate, not {type_name(model_cls)}")
        super().__init__(model_cls)


# The process's key for pickled values: only payloads this process encoded
# are ever unpickled, never one that arrived in JSON from elsewhere.
_PICKLE_KEY = os.urandom(32)


def _pickle_mac(payload: str) -> str:
    return hmac.new(_PICKLE_KEY, payload.encode("ascii"), hashlib.sha256).hexdigest()


class BestEffortAnyCodec(Codec[object]):
    """Any Python value, as faithfully as JSON allows.

    JSON values pass unchanged.  A pydantic model or a dataclass becomes a
    tagged object (``{"__nv_pydantic__" | "__nv_dataclass__": "module.Class",
    "__nv_runtime_type__": ..., "data": {...}}``) that ``from_json`` turns
    back into an instance; other values are pickled (``__nv_pickle__``) or, if
    that fails, recorded as their ``str`` (``__nv_fallback_str__``).  Decoding
    never raises: what cannot be rebuilt is returned as it is.  Pickled
    payloads carry a MAC and are unpickled only by the process that made them.
    """

    def to_json(self, value: object) -> Json:
        if not isinstance(value, type) and _is_pydantic_model(type(value)):
            try:
                return {"__nv_pydantic__": _qualified(type(value)),
                        "__nv_runtime_type__": _register_runtime_type(type(value)),
                        "data": cast(Any, value).model_dump(mode="json")}
            except Exception:  # fall back to the encodings below
                pass
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {"__nv_dataclass__": _qualified(type(value)),
                    "__nv_runtime_type__": _register_runtime_type(type(value)),
                    "data": _serialize_dataclass_instance(value)}
        try:
            return cast(Json, json.loads(json.dumps(value, allow_nan=False)))
        except (TypeError, ValueError):
            pass
        try:
            payload = base64.b64encode(pickle.dumps(value)).decode("ascii")
        except Exception:
            return {"__nv_fallback_str__": _qualified(type(value)), "data": str(value)}
        return {"__nv_pickle__": _qualified(type(value)), "data": payload, "mac": _pickle_mac(payload)}

    def from_json(self, data: Json) -> object:
        if not isinstance(data, dict) or "data" not in data:
            return data
        payload = data["data"]
        for tag in ("__nv_pydantic__", "__nv_dataclass__"):
            if tag in data:
                cls = _resolve_runtime_type(data.get("__nv_runtime_type__")) or _resolve_importable_type(data[tag])
                if cls is None or not isinstance(payload, dict):
                    return data
                try:
                    return _decode(cls, payload, "")
                except Exception:
                    return data
        if "__nv_pickle__" in data:
            mac = data.get("mac")
            if not isinstance(payload, str) or not isinstance(mac, str) or not hmac.compare_digest(
                    mac, _pickle_mac(payload)):
                return data
            try:
                return pickle.loads(base64.b64decode(payload))
            except Exception:
                return data
        if "__nv_fallback_str__" in data and isinstance(payload, str):
            return payload
        return data


def _qualified(cls: type[object]) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _is_json(value: object) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


# ---- codecs from type annotations -----------------------------------------------------

_registry: dict[object, Codec[Any]] = {}
_registry_lock = threading.Lock()


def register_codec(tp: type[T], codec: Codec[T] | None) -> None:
    """Use ``codec`` for ``tp`` wherever ``codec_for`` meets it (also as a
    field of a dataclass, TypedDict or list).  Registering a type again
    replaces its codec; ``register_codec(tp, None)`` removes it."""
    with _registry_lock:
        if codec is None:
            _registry.pop(tp, None)
        elif not isinstance(codec, Codec):
            raise TypeError(f"register_codec needs a Codec, not {type(codec).__name__}")
        else:
            _registry[tp] = codec


def codec_for(tp: Any) -> Codec[Any]:
    """A codec for a type annotation: a dataclass, a pydantic model, a
    TypedDict, an Enum, ``str``/``int``/``float``/``bool``/``None``,
    ``list[T]``, ``tuple[...]``, ``dict[str, T]``, ``T | None`` and other
    unions, ``Literal[...]``, ``Any`` (JSON as it is), or a type given to
    ``register_codec``.  Unsupported annotations raise ``TypeError`` now,
    not at the first call."""
    return _TypeCodec(tp)


def _is_pydantic_model(tp: object) -> bool:
    return isinstance(tp, type) and callable(getattr(tp, "model_validate", None)) and callable(
        getattr(tp, "model_dump", None))


def _is_typeddict(tp: object) -> bool:
    return isinstance(tp, type) and typing.is_typeddict(tp)


_hints_cache: weakref.WeakKeyDictionary[type, dict[str, Any]] = weakref.WeakKeyDictionary()


def _hints(tp: Any) -> dict[str, Any]:
    """The resolved field annotations of a dataclass or TypedDict (cached)."""
    try:
        return _hints_cache[tp]
    except (KeyError, TypeError):
        pass
    try:
        hints = typing.get_type_hints(tp)
    except Exception:
        hints = _hints_one_by_one(tp)
    try:
        _hints_cache[tp] = hints
    except TypeError:
        pass
    return hints


def _hints_one_by_one(tp: Any) -> dict[str, Any]:
    """Annotations resolved field by field: one that names a class defined in
    a function (not resolvable from the module) is taken as ``Any``."""
    module = sys.modules.get(tp.__module__)
    namespace = dict(vars(module)) if module is not None else {}
    hints: dict[str, Any] = {}
    for klass in reversed(tp.__mro__):
        for name, ann in getattr(klass, "__annotations__", {}).items():
            if isinstance(ann, str):
                try:
                    ann = eval(ann, namespace, dict(vars(klass)))  # noqa: S307  (an annotation of the class itself)
                except Exception:
                    ann = Any
            hints[name] = ann
    return hints


def _typeddict_required(tp: Any) -> frozenset[str]:
    """The required keys of a TypedDict.  Under ``from __future__ import
    annotations`` Python 3.11 does not see ``NotRequired[...]`` / ``Required[...]``
    when it builds ``__required_keys__``, so they are read here again."""
    required = set(tp.__required_keys__)
    try:
        extras = typing.get_type_hints(tp, include_extras=True)
    except Exception:
        return frozenset(required)
    for key, hint in extras.items():
        origin = typing.get_origin(hint)
        if origin is typing.NotRequired:
            required.discard(key)
        elif origin is typing.Required:
            required.add(key)
    return frozenset(required)


_PLAIN = (str, int, float, bool)


def _check_supported(tp: Any, seen: set[int]) -> None:
    if id(tp) in seen:
        return  # recursive types are fine
    seen.add(id(tp))
    if tp in _registry or tp is Any or tp is object or tp is None or tp is type(None) or tp in _PLAIN:
        return
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return
    if origin in (typing.Union, types.UnionType, list, tuple, dict, Mapping, typing.Sequence):
        args = typing.get_args(tp)
        if origin in (dict, Mapping) and args and args[0] is not str:
            raise TypeError(f"{type_name(tp)}: JSON object keys are strings; use dict[str, ...]")
        for arg in args:
            if arg is not Ellipsis:
                _check_supported(arg, seen)
        return
    if origin is not None:
        raise TypeError(f"no codec for {type_name(tp)}; register one with typed.register_codec")
    if tp in (list, tuple, dict):
        return
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return
    if _is_pydantic_model(tp):
        return
    if isinstance(tp, type) and dataclasses.is_dataclass(tp) or _is_typeddict(tp):
        for hint in _hints(tp).values():
            _check_supported(hint, seen)
        return
    raise TypeError(f"no codec for {type_name(tp)}; register one with typed.register_codec")


def _encode(tp: Any, value: Any, path: str) -> Json:
    codec = _registry.get(tp)
    if codec is not None:
        return codec.to_json(value)
    if tp is Any or tp is object:
        if not _is_json(value):
            raise ConversionError(path, "a JSON value", value)
        return value
    if tp is None or tp is type(None):
        if value is not None:
            raise ConversionError(path, "None", value)
        return None
    if tp in _PLAIN:
        _check_plain(tp, value, path)
        return value
    origin = typing.get_origin(tp)
    if origin is not None:
        return _encode_generic(tp, origin, value, path)
    if tp in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConversionError(path, type_name(tp), value)
        return [_encode(Any, v, _join(path, i)) for i, v in enumerate(value)]
    if tp is dict:
        return _encode(dict[str, Any], value, path)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        if not isinstance(value, tp):
            raise ConversionError(path, type_name(tp), value)
        return cast(Json, value.value)
    if _is_pydantic_model(tp):
        if not isinstance(value, tp):
            raise ConversionError(path, type_name(tp), value)
        return cast(Any, value).model_dump(mode="json")
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, tp):
            raise ConversionError(path, type_name(tp), value)
        hints = _hints(tp)
        out: dict[str, Json] = {}
        for f in dataclasses.fields(tp):
            item = getattr(value, f.name)
            if item is not None:  # None fields are left out, as NeMo Relay does
                out[f.name] = _encode(hints.get(f.name, Any), item, _join(path, f.name))
        return out
    if _is_typeddict(tp):
        if not isinstance(value, Mapping):
            raise ConversionError(path, type_name(tp), value)
        hints = _hints(tp)
        missing = [k for k in sorted(_typeddict_required(tp)) if k not in value]
        if missing:
            raise ConversionError(_join(path, missing[0]), type_name(hints[missing[0]]), None,
                                  f"required key of {type_name(tp)} is missing")
        return {k: _encode(hints[k], v, _join(path, k)) if k in hints else _unknown_key(tp, k, v, path)
                for k, v in value.items()}
    raise ConversionError(path, type_name(tp), value, "no codec for this type")


def _unknown_key(tp: Any, key: str, value: object, path: str) -> Json:
    raise ConversionError(_join(path, key), f"no such key in {type_name(tp)}", value)


def _check_plain(tp: type, value: Any, path: str) -> None:
    if tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, tp)
    if not ok:
        raise ConversionError(path, tp.__name__, value)


def _encode_generic(tp: Any, origin: Any, value: Any, path: str) -> Json:
    args = typing.get_args(tp)
    if origin is typing.Literal:
        if value not in args:
            raise ConversionError(path, type_name(tp), value)
        return cast(Json, value.value if isinstance(value, enum.Enum) else value)
    if origin in (typing.Union, types.UnionType):
        return _encode(_union_member_for(tp, args, value, path), value, path)
    if origin in (list, typing.Sequence):
        if not isinstance(value, (list, tuple)):
            raise ConversionError(path, type_name(tp), value)
        item = args[0] if args else Any
        return [_encode(item, v, _join(path, i)) for i, v in enumerate(value)]
    if origin is tuple:
        return _encode_tuple(tp, args, value, path)
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise ConversionError(path, type_name(tp), value)
        item = args[1] if len(args) == 2 else Any
        out: dict[str, Json] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ConversionError(_join(path, str(k)), "a str key", k)
            out[k] = _encode(item, v, _join(path, k))
        return out
    raise ConversionError(path, type_name(tp), value, "no codec for this type")


def _encode_tuple(tp: Any, args: tuple[Any, ...], value: Any, path: str) -> Json:
    if not isinstance(value, (list, tuple)):
        raise ConversionError(path, type_name(tp), value)
    if len(args) == 2 and args[1] is Ellipsis:
        return [_encode(args[0], v, _join(path, i)) for i, v in enumerate(value)]
    if args and len(args) != len(value):
        raise ConversionError(path, type_name(tp), value, f"{len(args)} items needed")
    return [_encode(args[i] if args else Any, v, _join(path, i)) for i, v in enumerate(value)]


def _union_member_for(tp: Any, args: tuple[Any, ...], value: Any, path: str) -> Any:
    """The first member of a union that ``value`` (a Python value) is an
    instance of."""
    for arg in args:
        try:
            _encode(arg, value, path)
        except ConversionError:
            continue
        return arg
    raise ConversionError(path, type_name(tp), value)


def _decode(tp: Any, data: Any, path: str) -> Any:
    codec = _registry.get(tp)
    if codec is not None:
        return codec.from_json(data)
    if tp is Any or tp is object:
        return data
    if tp is None or tp is type(None):
        if data is not None:
            raise ConversionError(path, "None", data)
        return None
    if tp in _PLAIN:
        _check_plain(tp, data, path)
        return float(data) if tp is float else data
    origin = typing.get_origin(tp)
    if origin is not None:
        return _decode_generic(tp, origin, data, path)
    if tp is list:
        if not isinstance(data, list):
            raise ConversionError(path, "list", data)
        return list(data)
    if tp is tuple:
        if not isinstance(data, list):
            raise ConversionError(path, "tuple", data)
        return tuple(data)
    if tp is dict:
        if not isinstance(data, dict):
            raise ConversionError(path, "dict", data)
        return dict(data)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(data)
        except ValueError:
            allowed = ", ".join(repr(m.value) for m in tp)
            raise ConversionError(path, type_name(tp), data, f"one of {allowed}") from None
    if _is_pydantic_model(tp):
        return _decode_pydantic(tp, data, path)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _decode_dataclass(tp, data, path)
    if _is_typeddict(tp):
        return _decode_typeddict(tp, data, path)
    raise ConversionError(path, type_name(tp), data, "no codec for this type")


def _accepts_none(tp: Any) -> bool:
    if tp is Any or tp is object or tp is None or tp is type(None):
        return True
    origin = typing.get_origin(tp)
    return origin in (typing.Union, types.UnionType) and any(_accepts_none(a) for a in typing.get_args(tp))


def _decode_dataclass(tp: Any, data: Any, path: str) -> Any:
    if not isinstance(data, dict):
        raise ConversionError(path, type_name(tp), data)
    hints = _hints(tp)
    fields = {f.name: f for f in dataclasses.fields(tp)}
    for key in data:
        if key not in fields:
            raise ConversionError(_join(path, key), f"no such field in {type_name(tp)}", data[key])
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        hint = hints.get(name, Any)
        if name in data:
            value = _decode(hint, data[name], _join(path, name))
        elif f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
            continue
        elif _accepts_none(hint):
            value = None  # a None field is left out when encoding
        else:
            raise ConversionError(_join(path, name), type_name(hint), None,
                                  f"required field of {type_name(tp)} is missing")
        if f.init:
            kwargs[name] = value
    try:
        return tp(**kwargs)
    except (TypeError, ValueError) as exc:  # the class's own checks (__post_init__)
        raise ConversionError(path, type_name(tp), data, str(exc)) from exc


def _decode_typeddict(tp: Any, data: Any, path: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ConversionError(path, type_name(tp), data)
    hints = _hints(tp)
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key not in hints:
            raise ConversionError(_join(path, key), f"no such key in {type_name(tp)}", value)
        out[key] = _decode(hints[key], value, _join(path, key))
    for key in sorted(_typeddict_required(tp)):
        if key not in out:
            raise ConversionError(_join(path, key), type_name(hints[key]), None,
                                  f"required key of {type_name(tp)} is missing")
    return out


def _decode_pydantic(tp: Any, data: Any, path: str) -> Any:
    try:
        return tp.model_validate(data)
    except Exception as exc:
        # pydantic's ValidationError lists the failing fields with their locations
        errors = getattr(exc, "errors", None)
        detail = str(exc)
        sub = path
        if callable(errors):
            try:
                first = errors()[0]
                sub = ".".join(str(p) for p in (path, *first.get("loc", ())) if p != "")
                detail = first.get("msg", detail)
            except Exception:
                pass
        raise ConversionError(sub, type_name(tp), data, detail) from exc


def _decode_generic(tp: Any, origin: Any, data: Any, path: str) -> Any:
    args = typing.get_args(tp)
    if origin is typing.Literal:
        for arg in args:
            raw = arg.value if isinstance(arg, enum.Enum) else arg
            if data == raw and type(data) is type(raw):
                return arg
        raise ConversionError(path, type_name(tp), data)
    if origin in (typing.Union, types.UnionType):
        if data is None and _accepts_none(tp):
            return None
        failures = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _decode(arg, data, path)
            except ConversionError as exc:
                failures.append(exc)
        # one candidate: its own error says more (e.g. which nested field)
        candidates = [a for a in args if a is not type(None)]
        if len(failures) == 1 and len(candidates) == 1:
            raise failures[0]
        raise ConversionError(path, type_name(tp), data)
    if origin in (list, typing.Sequence):
        if not isinstance(data, list):
            raise ConversionError(path, type_name(tp), data)
        item = args[0] if args else Any
        return [_decode(item, v, _join(path, i)) for i, v in enumerate(data)]
    if origin is tuple:
        if not isinstance(data, list):
            raise ConversionError(path, type_name(tp), data)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v, _join(path, i)) for i, v in enumerate(data))
        if args and len(args) != len(data):
            raise ConversionError(path, type_name(tp), data, f"{len(args)} items needed")
        return tuple(_decode(args[i] if args else Any, v, _join(path, i)) for i, v in enumerate(data))
    if origin in (dict, Mapping):
        if not isinstance(data, dict):
            raise ConversionError(path, type_name(tp), data)
        item = args[1] if len(args) == 2 else Any
        return {k: _decode(item, v, _join(path, k)) for k, v in data.items()}
    raise ConversionError(path, type_name(tp), data, "no codec for this type")


# ---- typed calls -----------------------------------------------------------------------


def _infer(func: Callable[..., Any], what: str, codec: Codec[Any] | None) -> Codec[Any]:
    """``codec``, or one built from ``func``'s annotation of its first
    parameter (``what == "args"``) or of its return value."""
    if codec is not None:
        if not isinstance(codec, Codec):
            raise TypeError(f"the {what} codec must be a typed.Codec, not {type(codec).__name__}")
        return codec
    try:
        hints = typing.get_type_hints(func)
        params = list(inspect.signature(func).parameters)
    except Exception as exc:
        raise TypeError(f"cannot read the annotations of {func!r} to choose a {what} codec: {exc}") from exc
    key = params[0] if what == "args" and params else "return"
    if key not in hints:
        which = "its first parameter" if what == "args" else "its return type"
        raise TypeError(f"pass a {what} codec, or annotate {which} in {getattr(func, '__qualname__', func)!r}")
    return codec_for(hints[key])


def _to_json(codec: Codec[Any], value: Any, context: str) -> Json:
    try:
        return codec.to_json(value)
    except ConversionError as exc:
        raise exc.within(context) from exc


def _from_json(codec: Codec[T], data: Json, context: str) -> T:
    try:
        return codec.from_json(data)
    except ConversionError as exc:
        raise exc.within(context) from exc


def _options(**kwargs: Any) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if v is not None}


async def tool_execute(
    name: str,
    args: TArgs,
    func: Callable[[TArgs], TResult] | Callable[[TArgs], Awaitable[TResult]],
    args_codec: Codec[TArgs] | None = None,
    result_codec: Codec[TResult] | None = None,
    *,
    handle: ScopeHandle | None = None,
    attributes: ToolAttributes | int | None = None,
    data: Json = None,
    metadata: Json = None,
    tool_call_id: str | None = None,
) -> TResult:
    """``tools.execute`` with typed arguments and result.

    Without a codec, the one for ``func``'s annotation is used (first
    parameter for args, return type for the result).  Guardrails, intercepts
    and events see the JSON; ``func`` gets ``args_codec.from_json`` of the
    (possibly intercepted) JSON args and the caller gets
    ``result_codec.from_json`` of the (possibly intercepted) JSON result.
    """
    a_codec = _infer(func, "args", args_codec)
    r_codec = _infer(func, "result", result_codec)
    json_args = _to_json(a_codec, args, f"tool {name!r} args")

    async def call(json_in: Json) -> Json:
        value = func(_from_json(a_codec, json_in, f"tool {name!r} args"))
        if inspect.isawaitable(value):
            value = await value
        return _to_json(r_codec, value, f"tool {name!r} result")

    json_result = await tools.execute(name, json_args, call, **_options(
        handle=handle, attributes=attributes, data=data, metadata=metadata, tool_call_id=tool_call_id))
    return cast(TResult, _from_json(r_codec, json_result, f"tool {name!r} result"))


async def llm_execute(
    name: str,
    request: LLMRequest,
    func: Callable[[LLMRequest], TResponse] | Callable[[LLMRequest], Awaitable[TResponse]],
    response_json_codec: Codec[TResponse] | None = None,
    *,
    handle: ScopeHandle | None = None,
    attributes: LLMAttributes | int | None = None,
    data: Json = None,
    metadata: Json = None,
    model_name: str | None = None,
    codec: LlmCodec | None = None,
    response_codec: LlmResponseCodec | None = None,
) -> TResponse:
    """``llm.execute`` whose function returns a typed response; middleware
    and events see its JSON, the caller gets it decoded again."""
    r_codec = _infer(func, "response", response_json_codec)

    async def call(req: LLMRequest) -> Json:
        value = func(req)
        if inspect.isawaitable(value):
            value = await value
        return _to_json(r_codec, value, f"LLM {name!r} response")

    json_result = await llm.execute(name, request, call, **_options(
        handle=handle, attributes=attributes, data=data, metadata=metadata, model_name=model_name,
        codec=codec, response_codec=response_codec))
    return cast(TResponse, _from_json(r_codec, json_result, f"LLM {name!r} response"))


async def llm_stream_execute(
    name: str,
    request: LLMRequest,
    func: Callable[[LLMRequest], AsyncIterator[TResponseChunk]],
    collector: Callable[[TResponseChunk], object],
    finalizer: Callable[[], TResponse],
    chunk_json_codec: Codec[TResponseChunk],
    response_json_codec: Codec[TResponse],
    *,
    handle: ScopeHandle | None = None,
    attributes: LLMAttributes | int | None = None,
    data: Json = None,
    metadata: Json = None,
    model_name: str | None = None,
    codec: LlmCodec | None = None,
    response_codec: LlmResponseCodec | None = None,
) -> LlmStream:
    """``llm.stream_execute`` with typed chunks: ``func`` yields typed
    chunks, which are recorded as JSON; the collector gets each chunk decoded
    again and the finalizer's typed result is recorded as JSON.  Iterating
    the returned stream gives the JSON chunks, as NeMo Relay's does."""

    async def chunks(req: LLMRequest) -> AsyncIterator[Json]:
        source = func(req)
        if inspect.isawaitable(source):
            source = await source
        async for chunk in source:
            yield _to_json(chunk_json_codec, chunk, f"LLM {name!r} stream chunk")

    def collect(chunk: Json) -> None:
        collector(_from_json(chunk_json_codec, chunk, f"LLM {name!r} stream chunk"))

    def finish() -> Json:
        return _to_json(response_json_codec, finalizer(), f"LLM {name!r} final response")

    return await llm.stream_execute(name, request, chunks, collect, finish, **_options(
        handle=handle, attributes=attributes, data=data, metadata=metadata, model_name=model_name,
        codec=codec, response_codec=response_codec))
