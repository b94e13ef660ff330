"""Print the import graph of packages, grouped by module-path depth, and any cycle between groups.

    python scripts/import_graph.py thaigov_search            # layers: thaigov_search.core -> ...
    python scripts/import_graph.py --depth 3 thaigov_search  # one level deeper

Runs grimp (the graph library under import-linter), so it reads the source, runs nothing, and
leaves out imports made under ``if TYPE_CHECKING:``. ``lint-imports`` checks the layer contracts of
pyproject.toml; this shows the graph those contracts constrain (docs/design.md).
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import grimp


def group_edges(packages: list[str], depth: int) -> dict[tuple[str, str], int]:
    """(importer group, imported group) -> number of module-to-module imports between them."""
    edges: dict[tuple[str, str], int] = defaultdict(int)
    for importer, imported in module_edges(packages):
        a, b = ".".join(importer.split(".")[:depth]), ".".join(imported.split(".")[:depth])
        if a != b:
            edges[(a, b)] += 1
    return edges


def module_edges(packages: list[str]) -> list[tuple[str, str]]:
    graph = grimp.build_graph(*packages, include_external_packages=False, exclude_type_checking_imports=True)
    return [(a, b) for a in graph.modules for b in graph.find_modules_directly_imported_by(a)]


def cycles(edges: list[tuple[str, str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan): every import cycle."""
    succ: dict[str, list[str]] = defaultdict(list)
    for a, b in edges:
        succ[a].append(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in succ[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in list(succ):
        if v not in index:
            visit(v)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("packages", nargs="+")
    parser.add_argument("--depth", type=int, default=2, help="module-path parts that make a group (default 2)")
    args = parser.parse_args()
    edges = group_edges(args.packages, args.depth)
    for (a, b), n in sorted(edges.items()):
        print(f"{a:36s} -> {b:36s} ({n} import{'s' if n > 1 else ''})")
    pairs = sorted(f"{a} <-> {b}" for (a, b) in edges if (b, a) in edges and a < b)
    print("\ncycles between groups:", ", ".join(pairs) or "none")
    loops = cycles(module_edges(args.packages))
    print("import cycles between modules:", "; ".join(" -> ".join(c) for c in loops) or "none")


if __name__ == "__main__":
    main()
