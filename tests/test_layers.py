"""The package's dependencies run one way: a module imports only from its own layer or those
below it, function-level imports included (they are dependencies all the same)."""

from __future__ import annotations

import ast
from pathlib import Path

import stls_warehouse

PACKAGE = Path(stls_warehouse.__file__).parent

# Lowest first. Modules not listed (config, errors, files, run_ids, run_logs, sql, periods,
# text, catalog, decisions, locking, progress) are the base every layer may use, and import
# no layer. `warehouse` is the raw landing tables' DDL and `connect`: the contract intake
# appends to and dbt reads, importing nothing of the package, so it sits below intake.
LAYERS = [
    "reference",
    "warehouse",
    "intake",
    "transform",
    "retention",
    "quality",
    "publish",
    "reports",
    "synthetic",
    "pipeline",
    "orchestration",
    "airflow_local",
    "cli",
]

# Upward imports still to remove, each with its reason; an entry that no longer holds fails
# too, so the list only shrinks.
PENDING = {
    # the warehouse gate audits the candidate release against the current one (publish)
    ("quality.warehouse_gates", "publish"),
}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _imports() -> list[tuple[str, str, int]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(("stls_warehouse", *path.relative_to(PACKAGE).with_suffix("").parts))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("stls_warehouse"):
                names = (
                    [f"stls_warehouse.{a.name}" for a in node.names]
                    if node.module == "stls_warehouse"
                    else [node.module]
                )
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names if a.name.startswith("stls_warehouse")]
            else:
                continue
            found += [(module.removesuffix(".__init__"), name, node.lineno) for name in names]
    return found


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    upward, pending_seen = [], set()
    for module, imported, line in _imports():
        mine, theirs = _layer(module), _layer(imported)
        if mine == theirs or theirs not in LAYERS:
            continue
        inner = module.removeprefix("stls_warehouse.")
        if mine not in LAYERS:
            upward.append(f"{inner}:{line} (base) -> {imported}")
        elif LAYERS.index(theirs) > LAYERS.index(mine):
            if (inner, theirs) in PENDING:
                pending_seen.add((inner, theirs))
            else:
                upward.append(f"{inner}:{line} -> {imported}")
    assert upward == []
    assert PENDING - pending_seen == set(), "no longer imported: remove from PENDING"


def test_no_private_name_is_imported_from_another_module() -> None:
    private = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("stls_"):
                private += [
                    f"{path.name}: {node.module}.{a.name}" for a in node.names if a.name.startswith("_")
                ]
    assert private == []


def _module_graph() -> dict[str, set[str]]:
    modules = {
        ".".join(("stls_warehouse", *p.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__")
        for p in PACKAGE.rglob("*.py")
    }
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(("stls_warehouse", *path.relative_to(PACKAGE).with_suffix("").parts))
        module = module.removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("stls_warehouse"):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    graph[module].add(full if full in modules else str(node.module))
        graph[module].discard(module)
    return graph


def test_no_import_cycle_between_modules() -> None:
    graph = _module_graph()

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            here = todo.pop()
            if here == goal:
                return True
            if here not in seen:
                seen.add(here)
                todo += [n for n in graph.get(here, ()) if n in graph]
        return False

    cycles = {
        frozenset({a, b})
        for a, deps in graph.items()
        for b in deps
        if b in graph and reaches(b, a) and a != b
    }
    assert {tuple(sorted(c)) for c in cycles} == set()
