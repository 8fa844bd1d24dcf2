"""The shape issue 15 set for `streams/`: modules read in one sitting, functions do one
thing, and a Faust or aiokafka upgrade can break one adapter module only."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests import REPO_ROOT

STREAMS = REPO_ROOT / "streams"
ADAPTER = STREAMS / "kafka" / "adapter.py"
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60
PRIVATE_ALLOWED = {"os._exit"}  # the standard library's own exit-without-cleanup
NAMEDTUPLE_API = {"_replace", "_asdict", "_fields", "_make"}  # public, underscored by design


def modules() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(STREAMS.rglob("*.py")):
        yield path, ast.parse(path.read_text(), str(path))


def test_no_module_in_streams_is_over_300_lines() -> None:
    long = {
        str(path.relative_to(REPO_ROOT)): lines
        for path, _ in modules()
        if (lines := path.read_text().count("\n")) > MAX_MODULE_LINES
    }
    assert long == {}


def test_no_function_in_streams_is_over_60_lines() -> None:
    long = [
        f"{path.relative_to(REPO_ROOT)}:{node.lineno} {node.name}"
        for path, tree in modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []


def test_private_attributes_of_other_objects_are_used_in_the_adapter_only() -> None:
    """`consumer._commit` and the like: a library's internals, named in one module."""
    used = [
        f"{path.relative_to(REPO_ROOT)}:{node.lineno} {ast.unparse(node)}"
        for path, tree in modules()
        if path != ADAPTER
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
        and node.attr not in NAMEDTUPLE_API
        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
        and ast.unparse(node) not in PRIVATE_ALLOWED
    ]
    assert used == []


def test_private_methods_of_library_classes_are_overridden_in_the_adapter_only() -> None:
    """Overriding `_drain_messages` is using Faust's internals too."""
    libraries = ("faust", "aiokafka", "mode")
    overrides = []
    for path, tree in modules():
        imported = {
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in libraries
            for alias in node.names
        }
        overrides += [
            f"{path.relative_to(REPO_ROOT)}:{method.lineno} {cls.name}.{method.name}"
            for cls in ast.walk(tree)
            if isinstance(cls, ast.ClassDef)
            and any(isinstance(base, ast.Name) and base.id in imported for base in cls.bases)
            for method in cls.body
            if isinstance(method, ast.FunctionDef | ast.AsyncFunctionDef)
            and method.name.startswith("_")
            and not method.name.startswith("__")
            and path != ADAPTER
        ]
    assert overrides == []
