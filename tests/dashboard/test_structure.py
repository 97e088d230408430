"""The dashboard app's structure: no import cycles, short modules, imports only downward.

A stop-gap until the project's import-linter contracts exist: it reads the source with ``ast`` (no
module is imported) and builds the graph of the project's own modules (``portal``, ``billing``,
``workflow``, ``dashboard``; migrations left out), every import counted, including those inside
functions and under ``TYPE_CHECKING`` (a cycle hidden in a function is still a cycle). It fails on

* a cycle through a module of ``dashboard`` or a module this layering touched (the URL confs,
  ``billing.pdf``) — cycles elsewhere are other apps' business;
* a module of ``dashboard`` longer than 500 lines whose docstring does not say why (it must say
  "500 lines" and the reason);
* ``portal`` importing ``dashboard`` anywhere but its URL confs;
* ``dashboard`` importing portal's shell (views, URL confs) or reaching into billing and workflow
  past their public reads: only the modules in :data:`DASHBOARD_MAY_IMPORT`, never a private name,
  never ``<Model>.objects`` of another app's model.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("portal", "billing", "workflow", "dashboard")
MAX_LINES = 500
# Modules outside dashboard/ whose imports this layering changed: cycles through them count too.
TOUCHED = {"portal.urls", "portal.api_urls", "billing.pdf"}
# The only modules of portal allowed to import dashboard (they route to it).
PORTAL_MAY_IMPORT_DASHBOARD = {"portal.urls", "portal.api_urls"}
# What dashboard may import from the other apps: the reads (stats, selectors), models for their
# choices (never querysets: see test_dashboard_queries_no_other_apps_models), the M11 unit
# functions (billing.engine.to_wan/to_yi), the Chinese PDF helpers, the chain's vocabulary, and the
# organisation layer (portal's models, roles, scoping). organisation.api is the API's shared base (error
# mapping, base view, error bodies of the schema) that billing's and workflow's API views use too:
# allowed until it moves to the organisation layer with models/roles/scoping.
DASHBOARD_MAY_IMPORT = {
    "billing.stats",
    "billing.selectors",
    "billing.models",
    "billing.engine",
    "billing.pdf",
    "workflow.stats",
    "workflow.selectors",
    "workflow.models",
    "workflow.chain",
    "organisation.models",
    "organisation.roles",
    "organisation.scoping",
    "organisation.api",
}


@cache
def modules() -> dict[str, Path]:
    """Every module of the project's packages, by dotted name (``pkg/__init__.py`` is ``pkg``)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts:
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _resolve(name: str) -> str | None:
    """The project module ``name`` is, or lives in (``billing.models.Category`` → ``billing.models``)."""
    known = modules()
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


@cache
def imports(module: str) -> dict[str, list[tuple[int, str]]]:
    """What ``module`` imports from the project: ``{module: [(line, imported name), …]}``."""
    path = modules()[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: dict[str, list[tuple[int, str]]] = {}
    for node in ast.walk(tree):
        targets: list[tuple[str, str]] = []  # (dotted target, name as imported)
        if isinstance(node, ast.Import):
            targets = [(alias.name, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            targets = [(f"{origin}.{alias.name}", alias.name) for alias in node.names]
        for target, name in targets:
            resolved = _resolve(target)
            if resolved is not None and resolved != module:
                out.setdefault(resolved, []).append((node.lineno, name))
    return out


def _cycles() -> list[list[str]]:
    """The graph's strongly connected components of more than one module (Tarjan), each sorted."""
    graph = {m: sorted(imports(m)) for m in modules()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:  # iterative: no recursion limit
        nonlocal counter
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    return found


def _ours(module: str) -> bool:
    return module == "dashboard" or module.startswith("dashboard.")


def test_the_graph_sees_the_dashboard_and_its_imports():
    """The checks below are not vacuous: the modules are found and their imports resolved."""
    assert {"dashboard.figures", "dashboard.views", "dashboard.api", "portal.urls"} <= set(modules())
    assert "dashboard.figures" in imports("dashboard.views")  # relative import
    assert "billing.stats" in imports("dashboard.figures")  # absolute import
    assert "dashboard.api" in imports("portal.api_urls")


def test_no_import_cycle_through_the_dashboard():
    cycles = [c for c in _cycles() if any(_ours(m) or m in TOUCHED for m in c)]
    assert not cycles, f"import cycles: {cycles}"


def test_no_dashboard_module_is_over_500_lines_without_a_reason():
    long = []
    for module, path in modules().items():
        if not _ours(module):
            continue
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        docstring = ast.get_docstring(ast.parse(text)) or ""
        if lines > MAX_LINES and "500 lines" not in docstring:
            long.append(f"{module}: {lines} lines")
    assert not long, f"over {MAX_LINES} lines without a reason in the module's docstring: {long}"


def test_portal_imports_the_dashboard_only_from_its_url_confs():
    wrong = [
        f"{module} → {target}"
        for module in modules()
        if module.startswith("portal.") and module not in PORTAL_MAY_IMPORT_DASHBOARD
        for target in imports(module)
        if _ours(target)
    ]
    assert not wrong, wrong


def test_dashboard_imports_only_downward_and_through_public_reads():
    wrong = []
    for module in modules():
        if not _ours(module):
            continue
        for target, names in imports(module).items():
            if _ours(target):
                continue
            if target not in DASHBOARD_MAY_IMPORT:
                wrong.append(f"{module} → {target}")
            wrong += [f"{module}:{line} imports the private {target}.{name}" for line, name in names if name[0] == "_"]
    assert not wrong, wrong


def test_dashboard_queries_no_other_apps_models():
    """A query of billing's or workflow's models belongs in their stats/selectors, not here."""
    wrong = []
    for module, path in modules().items():
        if not _ours(module):
            continue
        foreign = {
            name
            for target, names in imports(module).items()
            if target.endswith(".models") and not target.startswith("portal.")
            for _line, name in names
        }
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("objects", "_default_manager")
                and isinstance(node.value, ast.Name)
                and node.value.id in foreign
            ):
                wrong.append(f"{module}:{node.lineno} {node.value.id}.{node.attr}")
    assert not wrong, wrong
