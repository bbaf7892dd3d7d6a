"""Code fingerprint of a step: its own source and the source of every project function, class and module it
reaches, transitively. Third-party packages count by distribution name and version; the standard library by
the Python version.

"Project" code is greenpipe itself and any module whose file lies outside site-packages and the standard
library: a user's own package, checked out or installed editable.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import inspect
import os
import sys
import sysconfig
import types
from dataclasses import dataclass
from typing import Any

_STDLIB_DIRS = tuple(
    os.path.realpath(p) for p in {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]}
)
_SITE_MARKERS = (f"{os.sep}site-packages{os.sep}", f"{os.sep}dist-packages{os.sep}")
_CONSTANT_TYPES = (int, float, str, bytes, bool, type(None), complex)


@dataclass(frozen=True)
class Fingerprint:
    """The digest plus its parts: {qualified name: part digest}, so a change can be named."""

    digest: str
    parts: dict[str, str]

    def merged(self, other: Fingerprint) -> Fingerprint:
        """This fingerprint plus another's parts (code a step reaches through a CodeRef param)."""
        return _from_parts({**self.parts, **other.parts})

    def changed_since(self, old_parts: dict[str, str]) -> list[str]:
        """Names whose code differs from `old_parts` (added, removed or edited)."""
        names = set(self.parts) | set(old_parts)
        return sorted(n for n in names if self.parts.get(n) != old_parts.get(n))


def code_fingerprint(fn: Any) -> Fingerprint:
    """Fingerprint `fn` and everything of the project that it reaches."""
    walker = _Walker()
    walker.visit(fn)
    return _from_parts(walker.parts)


def _from_parts(parts: dict[str, str]) -> Fingerprint:
    ordered = dict(sorted(parts.items()))
    blob = "\n".join(f"{k}={v}" for k, v in ordered.items()).encode()
    return Fingerprint("fp:" + hashlib.sha256(blob).hexdigest()[:32], ordered)


@functools.lru_cache(maxsize=256)
def code_ref_fingerprint(ref: str) -> Fingerprint:
    """Fingerprint of the code named by "package.module:function" (a CodeRef param's value)."""
    import importlib

    from greenpipe.errors import ParamError

    module_name, _, attr = ref.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ParamError(
            f"code reference {ref!r} cannot be imported ({exc}): pass an importable 'package.module:function'"
        ) from None
    return code_fingerprint(target)


def _sha(text: str | bytes) -> str:
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()[:16]


@functools.lru_cache(maxsize=4096)
def _module_kind(module_name: str) -> str:
    """'project', 'stdlib', 'builtin' or 'third-party'."""
    root = module_name.split(".")[0]
    if root == "greenpipe":
        return "project"
    if root in sys.builtin_module_names:
        return "builtin"
    module = sys.modules.get(module_name)
    path = getattr(module, "__file__", None)
    if not path:
        return "builtin" if root in sys.stdlib_module_names else "project"
    real = os.path.realpath(path)
    if any(marker in real for marker in _SITE_MARKERS):
        return "third-party"
    if root in sys.stdlib_module_names or real.startswith(_STDLIB_DIRS):
        return "stdlib"
    return "project"


@functools.lru_cache(maxsize=1024)
def _distribution_version(module_name: str) -> str:
    root = module_name.split(".")[0]
    dists = importlib.metadata.packages_distributions().get(root, [root])
    for dist in dists:
        try:
            return f"{dist}=={importlib.metadata.version(dist)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    version = getattr(sys.modules.get(root), "__version__", "unknown")
    return f"{root}=={version}"


def _names_in_code(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names_in_code(const)
    return names


class _Walker:
    def __init__(self) -> None:
        self.parts: dict[str, str] = {}
        self._seen: set[int] = set()

    def visit(self, obj: Any) -> None:
        obj = inspect.unwrap(obj) if callable(obj) and not isinstance(obj, type) else obj
        target = getattr(obj, "fn", None)
        if target is not None and type(obj).__name__ in ("Step", "Pipeline"):  # a decorated step or pipeline
            obj = target
        if isinstance(obj, functools.partial):
            self.visit(obj.func)
            self._constants("partial", (obj.args, sorted(obj.keywords.items())))
            return
        if id(obj) in self._seen:
            return
        self._seen.add(id(obj))
        if isinstance(obj, types.ModuleType):
            self._value(obj, obj.__name__)
        elif isinstance(obj, type):
            self._class(obj)
        elif isinstance(obj, (types.FunctionType, types.MethodType)):
            self._function(obj.__func__ if isinstance(obj, types.MethodType) else obj)  # type: ignore[arg-type]
        else:
            module = getattr(type(obj), "__module__", "builtins")
            if _module_kind(module) == "project":
                self._class(type(obj))

    def _third_party(self, module_name: str) -> None:
        kind = _module_kind(module_name)
        if kind == "third-party":
            self.parts[f"pkg:{module_name.split('.')[0]}"] = _distribution_version(module_name)
        elif kind in ("stdlib", "builtin"):
            self.parts["python"] = sys.version.split()[0]

    def _function(self, fn: types.FunctionType) -> None:
        module = fn.__module__ or "__main__"
        if _module_kind(module) != "project":
            self._third_party(module)
            return
        key = f"{module}.{fn.__qualname__}"
        try:
            source = inspect.getsource(fn)
        except (OSError, TypeError):
            source = repr((fn.__code__.co_code, fn.__code__.co_consts))
        defaults = (fn.__defaults__, sorted((fn.__kwdefaults__ or {}).items()))
        self.parts[key] = _sha(source + repr(defaults))
        self._references(fn.__code__, fn.__globals__, key)
        for cell in fn.__closure__ or ():
            try:
                self._value(cell.cell_contents, f"{key}.<closure>")
            except ValueError:  # empty cell
                pass

    def _references(self, code: types.CodeType, namespace: dict[str, Any], owner: str) -> None:
        names = _names_in_code(code)
        for name in sorted(names):
            if name.startswith("__") and name.endswith("__"):
                continue
            if name in namespace:
                self._value(namespace[name], f"{owner}:{name}", attrs=names)

    def _value(self, value: Any, label: str, attrs: set[str] | None = None) -> None:
        if isinstance(value, _CONSTANT_TYPES) or (
            isinstance(value, (tuple, frozenset)) and all(isinstance(v, _CONSTANT_TYPES) for v in value)
        ):
            self.parts[f"const:{label}"] = _sha(repr(value))
            return
        if isinstance(value, types.ModuleType):
            if _module_kind(value.__name__) != "project":
                self._third_party(value.__name__)
                return
            if id(value) in self._seen:
                return
            self._seen.add(id(value))
            # a project module counts by the members the code reads from it (`helpers.transform`, `helpers.SCALE`)
            for attr in sorted(attrs or ()):
                if hasattr(value, attr) and not attr.startswith("__"):
                    self._value(getattr(value, attr), f"{value.__name__}.{attr}", attrs=attrs)
            return
        if isinstance(value, (types.FunctionType, type, functools.partial, types.MethodType)) or callable(value):
            self.visit(value)

    def _constants(self, label: str, value: Any) -> None:
        self.parts[f"const:{label}"] = _sha(repr(value))

    def _class(self, cls: type) -> None:
        module = cls.__module__
        if _module_kind(module) != "project":
            self._third_party(module)
            return
        key = f"{module}.{cls.__qualname__}"
        try:
            self.parts[key] = _sha(inspect.getsource(cls))
        except (OSError, TypeError):
            self.parts[key] = _sha(repr(sorted(vars(cls))))
        for base in cls.__mro__[1:]:
            if base is not object:
                self.visit(base)
        module_globals = vars(sys.modules[module]) if module in sys.modules else {}
        for member in vars(cls).values():
            func = member.__func__ if isinstance(member, (staticmethod, classmethod)) else member
            if isinstance(member, property):
                func = member.fget
            if isinstance(func, types.FunctionType):
                self._references(func.__code__, func.__globals__ or module_globals, key)
