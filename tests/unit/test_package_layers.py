"""The top-level packages import downward only: no cycle between them, and the product never
imports the developers' tools (README's layout; the layers of the 1.0 restructuring)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Whichever of these exist: the list runs ahead of packages still being split out (store).
PACKAGES = (
    "models rules store client activities workflows api workers devtools simulators benchmarks"
).split()
PRODUCT = "models rules store client activities workflows api workers simulators".split()
TOOLS = ("devtools", "benchmarks")


@dataclass(frozen=True)
class Import:
    """One import of a top-level package of the project, where it is written."""

    source: str  # the importing package
    target: str  # the imported package
    at: str  # file:line, for the failure message

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} ({self.at})"


class _Imports(ast.NodeVisitor):
    """Every absolute import in a module, nested ones included (functions, ``with
    workflow.unsafe.imports_passed_through():``), except those under ``if TYPE_CHECKING:``,
    which never run."""

    def __init__(self) -> None:
        self.found: list[tuple[str, int]] = []

    def visit_Import(self, node: ast.Import) -> None:
        self.found += [(alias.name, node.lineno) for alias in node.names]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        # A relative import stays inside its own package.
        if node.level == 0 and node.module:
            self.found.append((node.module, node.lineno))

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for statement in node.orelse:
                self.visit(statement)
        else:
            self.generic_visit(node)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports() -> Iterator[Import]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            visitor = _Imports()
            visitor.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
            for module, line in visitor.found:
                target = module.partition(".")[0]
                if target in PACKAGES and target != package:
                    yield Import(package, target, f"{path.relative_to(ROOT)}:{line}")


@pytest.fixture(scope="module")
def imports() -> list[Import]:
    found = list(_imports())
    assert found, f"no imports between the packages under {ROOT}"
    return found


def test_the_packages_import_one_another_without_a_cycle(imports: list[Import]) -> None:
    """The package-level import graph is acyclic, so the packages stack up in layers."""
    graph: dict[str, set[str]] = {}
    for edge in imports:
        graph.setdefault(edge.source, set()).add(edge.target)
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as cycle:
        ring: list[str] = cycle.args[1]
        pairs = set(zip(ring[1:], ring, strict=False))  # graphlib lists a cycle backwards
        witnesses = [str(e) for e in imports if (e.source, e.target) in pairs]
        pytest.fail(f"import cycle {' -> '.join(reversed(ring))}:\n" + "\n".join(witnesses))


def test_the_product_never_imports_the_developers_tools(imports: list[Import]) -> None:
    """No product package imports ``devtools`` or ``benchmarks``."""
    wrong = [str(e) for e in imports if e.source in PRODUCT and e.target in TOOLS]
    assert not wrong, "\n".join(wrong)


def test_the_api_and_the_worker_are_siblings(imports: list[Import]) -> None:
    """Neither ``api`` nor ``workers`` imports the other: what they share lives in ``client``."""
    wrong = [str(e) for e in imports if {e.source, e.target} == {"api", "workers"}]
    assert not wrong, "\n".join(wrong)


def test_the_simulators_import_only_models_and_rules(imports: list[Import]) -> None:
    """The simulated outside systems know nothing of the product beyond its models and rules."""
    wrong = [
        str(e) for e in imports if e.source == "simulators" and e.target not in ("models", "rules")
    ]
    assert not wrong, "\n".join(wrong)
