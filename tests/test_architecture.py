"""One-way dependencies inside `stls_warehouse`: no import cycle, even through an import
made inside a function (Python resolves those late, but they tie the modules just the same).

The imports are read from the source with `ast` (nothing is imported), at two levels:

- modules: `stls_warehouse.quality.report` and `stls_warehouse.quality.warehouse_gates` are
  two modules; a cycle between any two modules fails;
- packages: each subpackage (`stls_warehouse.quality`, `stls_warehouse.reports`, ...) and each
  top-level module (`stls_warehouse.pipeline`) is one node; a cycle between them fails.

Cycles that another piece of work still has to break are listed below as known exceptions,
each with its reason; a known exception that no longer exists fails too, so the list shrinks.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

PACKAGE = "stls_warehouse"
SOURCE = Path(__file__).resolve().parents[1] / "src"

# Module cycles still to break (issue 18, item 5), each in the area of another change.
KNOWN_MODULE_CYCLES: set[frozenset[str]] = {
    # airflow_local prunes run logs with retention, which asks airflow_local where they are
    # (settings and shared primitives, issue 18 item 5).
    frozenset({"stls_warehouse.airflow_local", "stls_warehouse.retention"}),
}

# Package-level imports that point back up the layers (issue 18, items 3 and 5), known and
# to be removed: with them left out the package graph must have no cycle. Each is
# (importing package, imported package).
KNOWN_BACK_EDGES: set[tuple[str, str]] = {
    # orchestration.closing runs pipeline stages; pipeline reads orchestration's settings
    # (the DAG tasks defined once, item 3).
    ("orchestration", "pipeline"),
    # retention rewrites the Data Docs index (quality.data_docs) and asks airflow_local for
    # the run logs; quality, publish, transform and airflow_local prune through retention
    # (settings and shared primitives, item 5).
    ("retention", "quality"),
    ("retention", "airflow_local"),
    # reports show the scheduler's state (reports.status, reports.evidence).
    ("reports", "airflow_local"),
    # intake.record writes Parquet with publish.exports' SQL quoting (item 5).
    ("intake", "publish"),
    # intake.portal_decisions records its skipped files as check rows (quality.results).
    ("intake", "quality"),
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in (SOURCE / PACKAGE).rglob("*.py"):
        parts = list(path.relative_to(SOURCE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def imports_of(name: str, path: Path) -> set[str]:
    """The `stls_warehouse` modules `name` imports anywhere in its source, functions included."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in MODULES else base)
    return {m for m in found if m in MODULES and m != name}


def module_graph() -> dict[str, set[str]]:
    return {name: imports_of(name, path) for name, path in MODULES.items()}


def _unit(module: str) -> str:
    """The package-level node: `quality` for stls_warehouse.quality.report."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, imported in module_graph().items():
        for other in imported:
            a, b = _unit(module), _unit(other)
            if a != b and b != PACKAGE:  # the package's own __init__ is a leaf
                graph.setdefault(a, set()).add(b)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _described(components: Iterable[frozenset[str]]) -> list[str]:
    return sorted(" <-> ".join(sorted(c)) for c in components)


def test_the_scan_sees_imports_made_inside_functions() -> None:
    # quality.warehouse_gates imports publish.release inside release_loss_row only.
    assert "stls_warehouse.publish.release" in module_graph()["stls_warehouse.quality.warehouse_gates"]


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [frozenset({"a", "b", "c"})]


def test_no_import_cycle_between_modules() -> None:
    found = set(cycles(module_graph()))
    assert not found - KNOWN_MODULE_CYCLES, f"import cycles: {_described(found - KNOWN_MODULE_CYCLES)}"
    assert not KNOWN_MODULE_CYCLES - found, (
        f"broken since, remove from KNOWN_MODULE_CYCLES: {_described(KNOWN_MODULE_CYCLES - found)}"
    )


def test_no_import_cycle_between_packages() -> None:
    graph = package_graph()
    stale = {edge for edge in KNOWN_BACK_EDGES if edge[1] not in graph.get(edge[0], set())}
    assert not stale, f"no longer imported, remove from KNOWN_BACK_EDGES: {sorted(stale)}"
    for importing, imported in KNOWN_BACK_EDGES:
        graph[importing].discard(imported)
    assert not cycles(graph), f"import cycles between packages: {_described(cycles(graph))}"


def test_quality_never_imports_reports() -> None:
    """Reports show what quality found; quality never reads a report (issue 18)."""
    graph = package_graph()
    assert "reports" not in graph.get("quality", set())
    assert "stls_warehouse.quality.warehouse_gates" not in module_graph()["stls_warehouse.quality.report"]
