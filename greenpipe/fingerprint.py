"""Code fingerprint of a step: its own code and every project function, class, module and value it reaches,
transitively. Third-party packages count by distribution name and version; the standard library by the Python
version.

"Project" code is greenpipe itself and any module whose file lies outside site-packages and the standard
library: a user's own package, checked out or installed editable.

What counts, and why:
- code by its syntax tree without comments and docstrings (a comment-only edit reruns nothing);
- names by how the bytecode reads them: a global read (`load(...)`) follows the global, an attribute read
  (`json.load`) follows the attribute of the object it is read from, so a step calling `json.load` does not
  depend on a pipeline step named `load`; every `(module, attribute)` read counts, wherever it is read;
- module-level values by their content (see greenpipe.value_digest): lists, dicts, sets, arrays, enums,
  dataclass instances, compiled regexes. A value that cannot be digested is named in `untracked`, never ignored;
- a project module read by computed name (`getattr(module, name)`, `vars(module)`, a module passed around
  as an object, `importlib.import_module("pkg.mod")`) counts whole.
"""

from __future__ import annotations

import ast
import dis
import functools
import hashlib
import importlib.metadata
import inspect
import os
import sys
import sysconfig
import textwrap
import types
from dataclasses import dataclass, field
from typing import Any

from greenpipe.value_digest import Untrackable, value_digest

_STDLIB_DIRS = tuple(
    os.path.realpath(p) for p in {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]}
)
_SITE_MARKERS = (f"{os.sep}site-packages{os.sep}", f"{os.sep}dist-packages{os.sep}")
# reads that reach a module's members by a name computed at run time
_DYNAMIC_GLOBALS = frozenset({"getattr", "vars", "__import__", "hasattr", "dir"})
_DYNAMIC_ATTRS = frozenset({"import_module", "__dict__", "__getattribute__"})
# methods that change a container in place: a module-level value the code changes is state, not configuration
_MUTATORS = frozenset(
    {
        "append",
        "extend",
        "insert",
        "pop",
        "remove",
        "clear",
        "add",
        "discard",
        "update",
        "setdefault",
        "popitem",
        "sort",
        "reverse",
        "appendleft",
        "extendleft",
        "popleft",
        "__setitem__",
        "__delitem__",
        "__setattr__",
    }
)


@dataclass(frozen=True)
class Fingerprint:
    """The digest plus its parts: {qualified name: part digest}, so a change can be named.

    `untracked` names the values the code reaches that could not be fingerprinted (edits to them do not rerun
    the step); `greenpipe plan` prints them.
    """

    digest: str
    parts: dict[str, str]
    untracked: tuple[str, ...] = field(default=())

    def merged(self, other: Fingerprint) -> Fingerprint:
        """This fingerprint plus another's parts (code a step reaches through a CodeRef param)."""
        return _from_parts({**self.parts, **other.parts}, (*self.untracked, *other.untracked))

    def changed_since(self, old_parts: dict[str, str]) -> list[str]:
        """Names whose code differs from `old_parts` (added, removed or edited)."""
        names = set(self.parts) | set(old_parts)
        return sorted(n for n in names if self.parts.get(n) != old_parts.get(n))


def code_fingerprint(fn: Any) -> Fingerprint:
    """Fingerprint `fn` and everything of the project that it reaches."""
    walker = _Walker()
    walker.visit(fn)
    walker.finish()
    return _from_parts(walker.parts, walker.untracked)


def _from_parts(parts: dict[str, str], untracked: Any = ()) -> Fingerprint:
    ordered = dict(sorted(parts.items()))
    blob = "\n".join(f"{k}={v}" for k, v in ordered.items()).encode()
    notes = tuple(sorted(set(untracked)))
    return Fingerprint("fp:" + hashlib.sha256(blob).hexdigest()[:32], ordered, notes)


@functools.lru_cache(maxsize=256)
def code_ref_fingerprint(ref: str) -> Fingerprint:
    """Fingerprint of the code named by "package.module:function" (a CodeRef param's value)."""
    from greenpipe.errors import ParamError
    from greenpipe.refs import RefError, resolve_ref

    try:
        target = resolve_ref(ref, "code reference")
    except (RefError, ImportError) as exc:
        raise ParamError(f"{exc} (pass an importable 'package.module:function')") from None
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
    kind = _path_kind(path)
    return "stdlib" if kind == "project" and root in sys.stdlib_module_names else kind


def _path_kind(path: str) -> str:
    """'third-party', 'stdlib' or 'project', by where the file lies."""
    real = os.path.realpath(path)
    if any(marker in real for marker in _SITE_MARKERS):
        return "third-party"
    if real.startswith(_STDLIB_DIRS):
        return "stdlib"
    return "project"


def _distribution_version(module_name: str) -> str:
    return _root_distribution_version(module_name.split(".")[0])


@functools.cache
def _packages_distributions() -> dict[str, list[str]]:
    return dict(importlib.metadata.packages_distributions())  # slow (scans every installed distribution): once


@functools.lru_cache(maxsize=1024)
def _root_distribution_version(root: str) -> str:
    dists = _packages_distributions().get(root, [root])
    for dist in dists:
        try:
            return f"{dist}=={importlib.metadata.version(dist)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    version = getattr(sys.modules.get(root), "__version__", "unknown")
    return f"{root}=={version}"


# -- code without comments and docstrings ----------------------------------------------------------------------


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            first = body[0].value if body and isinstance(body[0], ast.Expr) else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


def _syntax_digest(source: str) -> str | None:
    """Digest of the source's syntax tree without docstrings (comments and layout never reach the tree)."""
    try:
        tree = ast.parse(textwrap.dedent(source))
    except SyntaxError:
        return None
    return _sha(ast.dump(_strip_docstrings(tree), include_attributes=False))


def _bytecode_digest(code: types.CodeType) -> str:
    """Fallback where no source is available (a lambda inside an expression, code built at run time)."""
    consts = tuple(_bytecode_digest(c) if isinstance(c, types.CodeType) else repr(c) for c in code.co_consts)
    return _sha(repr((code.co_code, consts, code.co_names, code.co_varnames)))


@functools.lru_cache(maxsize=8192)
def _object_code_digest(obj: Any) -> str:
    try:
        digest = _syntax_digest(inspect.getsource(obj))
    except (OSError, TypeError):
        digest = None
    if digest is not None:
        return digest
    code = getattr(obj, "__code__", None)
    if code is not None:
        return _bytecode_digest(code)
    return _sha(repr(sorted(k for k in vars(obj) if not k.startswith("__"))))


def _module_source_digest(module: types.ModuleType) -> str:
    try:
        digest = _syntax_digest(inspect.getsource(module))
    except (OSError, TypeError):
        digest = None
    return digest or _sha(repr(sorted(k for k in vars(module) if not k.startswith("__"))))


def _assignment_digest(module: types.ModuleType | None, name: str) -> str | None:
    """Digest of the module-level statements that assign `name` in `module`'s source, or None."""
    try:
        tree = ast.parse(inspect.getsource(module)) if module is not None else None
    except (OSError, TypeError, SyntaxError):
        tree = None
    if tree is None:
        return None
    found = [
        ast.dump(node, include_attributes=False)
        for node in tree.body
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign))
        and any(
            isinstance(target, ast.Name) and target.id == name
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        )
    ]
    return _sha("\n".join(found)) if found else None


# -- what a piece of code reads ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Reads:
    globals_: tuple[tuple[str, tuple[str, ...]], ...]  # (global name, attribute chain read from it)
    imports: tuple[tuple[str, int, tuple[str, ...]], ...]  # (module, level, names imported from it)
    attrs: frozenset[str]  # every attribute name read (for modules imported into a local)
    dynamic: bool  # reads members by a computed name
    strings: frozenset[str]  # string constants (a module name passed to import_module)
    stored_into: frozenset[str]  # globals the code assigns items of (`CACHE[key] = value`)


@functools.lru_cache(maxsize=8192)
def _reads(code: types.CodeType) -> _Reads:
    globals_: list[tuple[str, tuple[str, ...]]] = []
    imports: list[tuple[str, int, tuple[str, ...]]] = []
    attrs: set[str] = set()
    strings: set[str] = set()
    dynamic = False
    consts: list[Any] = []
    chain: list[str] | None = None
    chain_root = ""
    current_import: list[Any] | None = None
    stored_into: set[str] = set()
    last_global = ""
    for ins in dis.get_instructions(code):
        op = ins.opname
        if op in ("STORE_SUBSCR", "DELETE_SUBSCR") and last_global:
            stored_into.add(last_global)
        if op in ("STORE_ATTR", "DELETE_ATTR") and chain is not None:  # `STATE.field = value`: a change in place
            chain.append("__setattr__")
        if op in ("LOAD_ATTR", "LOAD_METHOD"):
            attrs.add(ins.argval)
            dynamic = dynamic or ins.argval in _DYNAMIC_ATTRS
            if chain is not None:
                chain.append(ins.argval)
                continue
        if chain is not None:
            globals_.append((chain_root, tuple(chain)))
            chain = None
        if op in ("LOAD_GLOBAL", "LOAD_NAME"):
            chain_root, chain, last_global = ins.argval, [], ins.argval
            dynamic = dynamic or ins.argval in _DYNAMIC_GLOBALS
        elif op == "IMPORT_NAME":
            level = consts[-2] if len(consts) >= 2 and isinstance(consts[-2], int) else 0
            current_import = [ins.argval, level, []]
            imports.append(current_import)  # type: ignore[arg-type]
        elif op == "IMPORT_FROM" and current_import is not None:
            current_import[2].append(ins.argval)
        elif op == "LOAD_CONST":
            consts.append(ins.argval)
            if isinstance(ins.argval, str):
                strings.add(ins.argval)
    if chain is not None:
        globals_.append((chain_root, tuple(chain)))
    return _Reads(
        tuple(globals_),
        tuple((name, level, tuple(names)) for name, level, names in imports),
        frozenset(attrs),
        dynamic,
        frozenset(strings),
        frozenset(stored_into),
    )


def _code_objects(code: types.CodeType) -> list[types.CodeType]:
    found = [code]
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found.extend(_code_objects(const))
    return found


def _absolute_name(name: str, level: int, package: str | None) -> str | None:
    if not level:
        return name
    if not package:
        return None
    base = package.rsplit(".", level - 1)[0] if level > 1 else package
    return f"{base}.{name}" if name else base


@functools.lru_cache(maxsize=4096)
def _module_origin(name: str) -> str | None:
    """The file of project module `name`, found without importing it (its parent packages may be imported)."""
    import importlib.util

    try:
        root_spec = importlib.util.find_spec(name.split(".")[0])
        if root_spec is None or not root_spec.origin or _path_kind(root_spec.origin) != "project":
            return None
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    origin = spec.origin if spec else None
    return origin if origin and origin.endswith(".py") else None


@functools.lru_cache(maxsize=4096)
def _static_module(origin: str, stamp: tuple[int, int]) -> tuple[str, tuple[tuple[str, int, tuple[str, ...]], ...]]:
    """A module file's syntax digest and the imports it makes anywhere in it: (module, level, names)."""
    with open(origin, encoding="utf-8") as handle:
        source = handle.read()
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return _sha(source), ()
    imports: list[tuple[str, int, tuple[str, ...]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imports.extend((alias.name, 0, ()) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imports.append((node.module or "", node.level, tuple(alias.name for alias in node.names)))
    return _sha(ast.dump(_strip_docstrings(tree), include_attributes=False)), tuple(imports)


# -- the walk ----------------------------------------------------------------------------------------------------


class _Walker:
    def __init__(self) -> None:
        self.parts: dict[str, str] = {}
        self.untracked: list[str] = []
        self._seen: set[Any] = set()
        self._module_values: dict[str, Any] = {}  # "module.NAME" -> value read, digested in finish()
        self._changed_in_place: set[str] = set()  # "module.NAME" values the reached code mutates

    def finish(self) -> None:
        """Digest the module-level values read. One the reached code changes in place (a call log, a cache)
        counts by its assignment in the source: its initial value is configuration, its contents are state."""
        done: set[str] = set()
        while pending := sorted(set(self._module_values) - done):  # code inside a value may read more values
            for label in pending:
                done.add(label)
                self._finish_value(label, self._module_values[label])

    def _finish_value(self, label: str, value: Any) -> None:
        if label not in self._changed_in_place:
            self._data(label, value, label)
            return
        module_name, _, name = label.rpartition(".")
        digest = _assignment_digest(sys.modules.get(module_name), name)
        if digest is None:
            self.untracked.append(
                f"untracked global `{label}` (type {type(value).__qualname__}, changed in place by the code "
                "and not assigned at module level): edits to it do not rerun this step"
            )
        else:
            self.parts[f"const:{label}"] = digest

    def _once(self, key: Any) -> bool:
        if key in self._seen:
            return False
        self._seen.add(key)
        return True

    def visit(self, obj: Any) -> None:
        obj = inspect.unwrap(obj) if callable(obj) and not isinstance(obj, type) else obj
        target = getattr(obj, "fn", None)
        if target is not None and type(obj).__name__ in ("Step", "Pipeline"):  # a decorated step or pipeline
            obj = target
        if isinstance(obj, functools.partial):
            self.visit(obj.func)
            label = f"{getattr(obj.func, '__module__', '?')}.{getattr(obj.func, '__qualname__', '?')}.<partial>"
            self._data(label, (obj.args, dict(obj.keywords)), label)
            return
        if isinstance(obj, types.ModuleType):
            self._whole_module(obj)
        elif isinstance(obj, type):
            self._class(obj)
        elif isinstance(obj, (types.FunctionType, types.MethodType)):
            self._function(obj.__func__ if isinstance(obj, types.MethodType) else obj)  # type: ignore[arg-type]
        elif callable(obj):
            self._class(type(obj))

    def _third_party(self, module_name: str) -> None:
        kind = _module_kind(module_name)
        if kind == "third-party":
            self.parts[f"pkg:{module_name.split('.')[0]}"] = _distribution_version(module_name)
        elif kind in ("stdlib", "builtin"):
            self.parts["python"] = sys.version.split()[0]

    def _library_by_name(self, name: str) -> None:
        """A library the code imports only when it runs: its version counts, without importing it now."""
        import importlib.util

        root = name.split(".")[0]
        if root in sys.stdlib_module_names or root in sys.builtin_module_names:
            self.parts["python"] = sys.version.split()[0]
            return
        try:
            spec = importlib.util.find_spec(root)
        except (ImportError, ValueError):
            return
        if spec is not None and spec.origin and _path_kind(spec.origin) == "third-party":
            self.parts[f"pkg:{root}"] = _distribution_version(root)

    def _function(self, fn: types.FunctionType) -> None:
        module = fn.__module__ or "__main__"
        if _module_kind(module) != "project":
            self._third_party(module)
            return
        if not self._once(fn):
            return
        key = f"{module}.{fn.__qualname__}"
        defaults = (fn.__defaults__ or (), dict(fn.__kwdefaults__ or {}))
        self.parts[key] = _sha(_object_code_digest(fn) + self._digest(defaults, f"defaults of {key}"))
        self._references(fn.__code__, fn.__globals__, module)
        for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=False):
            try:
                contents = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            self._value(contents, f"{key}.<closure>.{name}")

    def _references(self, code: types.CodeType, namespace: dict[str, Any], module: str) -> None:
        package = namespace.get("__package__")
        for sub in _code_objects(code):
            reads = _reads(sub)
            touched: list[types.ModuleType] = []
            for name, chain in reads.globals_:
                if name.startswith("__") and name.endswith("__") or name not in namespace:
                    continue  # a builtin, or a name the module never defined
                value = namespace[name]
                if isinstance(value, types.ModuleType):
                    touched.append(value)
                    self._module_read(value, chain)
                    continue
                if (chain and chain[0] in _MUTATORS) or name in reads.stored_into:
                    self._changed_in_place.add(f"{module}.{name}")
                self._value(value, f"{module}.{name}")
            for imported, level, names in reads.imports:
                self._import_statement(imported, level, names, package)
            if reads.dynamic:
                for target in touched:
                    if _module_kind(target.__name__) == "project":
                        self._whole_module(target)
                for text in sorted(reads.strings):
                    if all(part.isidentifier() for part in text.split(".")) and _module_origin(text):
                        self._module_file(text)  # importlib.import_module("pkg.mod")

    def _import_statement(self, imported: str, level: int, names: tuple[str, ...], package: str | None) -> None:
        """An import made when the code runs: project modules count by their files, read statically.

        Statically, not by importing them now, so that the fingerprint does not depend on what this process
        happened to import before (a step run later in the same process would otherwise see other parts).
        """
        name = _absolute_name(imported, level, package)
        if name is None:
            return
        if not _module_origin(name):
            if not level:
                self._library_by_name(name)
            return
        self._module_file(name)
        for member in names:  # `from pkg import submodule`
            if _module_origin(f"{name}.{member}"):
                self._module_file(f"{name}.{member}")

    def _module_file(self, name: str) -> None:
        """Project module `name` whole, by its file, and every module it imports, transitively."""
        if not self._once(("module file", name)):
            return
        origin = _module_origin(name)
        if origin is None:
            self._library_by_name(name)
            return
        stat = os.stat(origin)
        digest, imports = _static_module(origin, (stat.st_mtime_ns, stat.st_ctime_ns))
        self.parts[f"module:{name}"] = digest
        package = name if origin.endswith("__init__.py") else name.rpartition(".")[0]
        for imported, level, names in imports:
            self._import_statement(imported, level, names, package)

    def _module_read(self, module: types.ModuleType, chain: tuple[str, ...]) -> None:
        """`module.a.b...`: follow the chain through submodules to the member it reads."""
        for attr in chain:
            if _module_kind(module.__name__) != "project":
                self._third_party(module.__name__)
                return
            if not hasattr(module, attr):
                if _module_origin(f"{module.__name__}.{attr}"):  # a submodule this process has not imported yet
                    import importlib

                    module = importlib.import_module(f"{module.__name__}.{attr}")  # as the code will when it runs
                    continue
                return  # read of a missing attribute: it fails at run time, nothing to fingerprint
            value = getattr(module, attr)
            if isinstance(value, types.ModuleType):
                module = value
                continue
            rest = chain[chain.index(attr) + 1 :]
            if rest and rest[0] in _MUTATORS:
                self._changed_in_place.add(f"{module.__name__}.{attr}")
            if self._once((module.__name__, attr)):
                self._value(value, f"{module.__name__}.{attr}")
            return
        # the chain ends on a module: it is used as an object (passed on, or read by computed name)
        if _module_kind(module.__name__) == "project":
            self._whole_module(module)
        else:
            self._third_party(module.__name__)

    def _whole_module(self, module: types.ModuleType) -> None:
        if _module_kind(module.__name__) != "project":
            self._third_party(module.__name__)
            return
        if not self._once(("module", module.__name__)):
            return
        self.parts[f"module:{module.__name__}"] = _module_source_digest(module)
        for name, member in sorted(vars(module).items()):
            if name.startswith("__"):
                continue
            home = getattr(member, "__module__", None)
            if isinstance(member, types.ModuleType) or home == module.__name__:
                continue  # its own code is in the module's source; submodules count when read
            if isinstance(member, (types.FunctionType, type)) or callable(member):
                self.visit(member)

    def _value(self, value: Any, label: str) -> None:
        if isinstance(value, types.ModuleType):
            self._module_read(value, ())
        elif isinstance(value, (types.FunctionType, type, functools.partial, types.MethodType)):
            self.visit(value)
        elif type(value).__name__ in ("Step", "Pipeline") and hasattr(value, "fn"):
            self.visit(value)
        elif ".<closure>." in label:
            self._data(label, value, label)
        else:
            self._module_values[label] = value

    def _data(self, label: str, value: Any, shown: str) -> None:
        digest = self._digest(value, shown)
        if digest:
            self.parts[f"const:{label}"] = digest

    def _digest(self, value: Any, shown: str) -> str:
        """Content digest of a value; code found inside it (a table of functions, say) is walked too."""
        try:
            return value_digest(value, self.visit)
        except Untrackable as exc:
            self.untracked.append(
                f"untracked global `{shown}` (type {exc.type_name}): edits to it do not rerun this step"
            )
            return ""

    def _class(self, cls: type) -> None:
        module = cls.__module__
        if _module_kind(module) != "project":
            self._third_party(module)
            return
        if not self._once(cls):
            return
        key = f"{module}.{cls.__qualname__}"
        self.parts[key] = _object_code_digest(cls)
        for base in cls.__mro__[1:]:
            if base is not object:
                self.visit(base)
        module_globals = vars(sys.modules[module]) if module in sys.modules else {}
        for member in vars(cls).values():
            func = member.__func__ if isinstance(member, (staticmethod, classmethod)) else member
            if isinstance(member, property):
                func = member.fget
            if isinstance(func, types.FunctionType):
                self._references(func.__code__, func.__globals__ or module_globals, module)
