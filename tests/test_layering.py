"""The import rule of docs/design.md §9: every module imports only its own folder and the folders below it,
and no two modules import each other, directly or through others.

Every ``.py`` file of the project's packages is parsed with :mod:`ast`; every import
statement counts, at module level or inside a function (late imports too), relative
imports resolved against the importing module's package. An import names a module
when one exists under that dotted name (``from rrm import bounds`` is ``rrm.bounds``),
else the package it comes from. Imports of anything outside the project are ignored.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: What each folder may import (besides third-party packages).
ALLOWED = {
    "rrm": {"rrm"},
    "sw": {"rrm", "sw"},
    "golden": {"rrm", "golden"},
    "hw": {"rrm", "hw"},
    "host": {"rrm", "host"},
    "tb": {"hw", "golden", "host", "rrm", "tb"},
    "scripts": {"rrm", "sw", "golden", "hw", "host", "tb", "scripts"},
}


def find_modules(root: Path, packages) -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is_package) for every .py file of ``packages`` under ``root``."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if "__pycache__" in parts:
                continue
            is_package = parts[-1] == "__init__"
            name = ".".join(parts[:-1] if is_package else parts)
            found[name] = (path, is_package)
    return found


def imports_of(name: str, path: Path, is_package: bool, modules) -> list[tuple[int, str]]:
    """(line, imported project module) for every import statement in ``path``."""
    roots = {module.split(".")[0] for module in modules}
    package = name.split(".") if is_package else name.split(".")[:-1]
    out = []

    def resolve(dotted: str) -> str | None:
        parts = dotted.split(".")
        if parts[0] not in roots:
            return None  # third-party or standard library
        while parts and ".".join(parts) not in modules:
            parts.pop()
        return ".".join(parts) if parts else None

    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package[:len(package) - (node.level - 1)] if node.level > 1 else package
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                       for alias in node.names]
        else:
            continue
        for target in targets:
            module = resolve(target)
            if module is not None and module != name:
                out.append((node.lineno, module))
    return out


def import_graph(root: Path, packages) -> dict[str, dict[str, int]]:
    """Module -> {imported project module: line of its first import}."""
    modules = find_modules(root, packages)
    graph = {}
    for name, (path, is_package) in modules.items():
        edges = {}
        for line, target in imports_of(name, path, is_package, modules):
            edges.setdefault(target, line)
        graph[name] = edges
    return graph


def upward_imports(root: Path, allowed=ALLOWED) -> list[str]:
    """One message per import of a folder that the importing module's folder may not import."""
    graph = import_graph(root, allowed)
    problems = []
    for name, edges in sorted(graph.items()):
        folder = name.split(".")[0]
        for target, line in sorted(edges.items()):
            if target.split(".")[0] not in allowed[folder]:
                problems.append(f"{name} (line {line}) imports {target}: {folder}/ may import only "
                                f"{', '.join(sorted(allowed[folder]))}")
    return problems


def import_cycles(root: Path, packages=ALLOWED) -> list[str]:
    """One message per group of modules that import each other, naming one cycle through them."""
    graph = import_graph(root, packages)
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def connect(start):  # Tarjan's strongly connected components, iteratively
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = len(index)
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(graph[succ]))))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(sorted(group))

    for name in sorted(graph):
        if name not in index:
            connect(name)
    problems = []
    for group in groups:
        members, first = set(group), group[0]
        # shortest path from the first member back to itself, inside the group
        paths, seen, cycle = [[first]], {first}, None
        while paths and cycle is None:
            path = paths.pop(0)
            for succ in sorted(graph[path[-1]]):
                if succ == first:
                    cycle = path + [first]
                    break
                if succ in members and succ not in seen:
                    seen.add(succ)
                    paths.append(path + [succ])
        steps = " -> ".join(f"{a} (line {graph[a][b]})" for a, b in zip(cycle, cycle[1:]))
        problems.append(f"import cycle: {steps} -> {first}")
    return problems


def test_no_module_imports_a_folder_above_its_own():
    problems = upward_imports(ROOT)
    assert not problems, "upward imports (docs/design.md §9):\n" + "\n".join(problems)


def test_no_import_cycles():
    problems = import_cycles(ROOT)
    assert not problems, "\n".join(problems)


def test_every_folder_is_walked():
    modules = find_modules(ROOT, ALLOWED)
    assert {name.split(".")[0] for name in modules} == set(ALLOWED)
    graph = import_graph(ROOT, ALLOWED)
    assert "rrm.bounds" in graph["hw.top.catalog"] or "rrm.sizing" in graph["hw.top.catalog"]
    assert "hw.flow.verilog" in graph["scripts.commands.verilog"]  # a function-local import


#: Inside hw/: what each sub-package may import (besides rrm/ and third-party packages):
#: blocks at the bottom, the engines built from them, the top that connects the engines,
#: the cost models and the tool flow above it.
HW_ALLOWED = {
    "hw.blocks": {"hw.blocks"},
    "hw.engines": {"hw.blocks", "hw.engines"},
    "hw.top": {"hw.blocks", "hw.engines", "hw.top"},
    "hw.cost": {"hw.blocks", "hw.engines", "hw.top", "hw.cost"},
    "hw.flow": {"hw.blocks", "hw.engines", "hw.top", "hw.flow"},
}


def test_hw_subpackages_import_only_their_own_level_and_below():
    graph = import_graph(ROOT, ALLOWED)
    problems = []
    for name, edges in sorted(graph.items()):
        parts = name.split(".")
        if parts[0] != "hw" or len(parts) < 3:
            continue
        package = ".".join(parts[:2])
        assert package in HW_ALLOWED, f"{name}: hw/{parts[1]}/ has no place in HW_ALLOWED"
        for target, line in sorted(edges.items()):
            target_package = ".".join(target.split(".")[:2])
            if target.startswith("hw.") and target_package not in HW_ALLOWED[package]:
                problems.append(f"{name} (line {line}) imports {target}: {package} may import only "
                                f"{', '.join(sorted(HW_ALLOWED[package]))}")
    assert not problems, "\n".join(problems)
    assert not [name for name in graph if name.startswith("hw.") and name.count(".") == 1
                and name not in ("hw.blocks", "hw.engines", "hw.top", "hw.cost", "hw.flow")], \
        "every hw module lives in one of the sub-packages"


def _tree(tmp_path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_the_checks_name_an_upward_import_and_a_cycle(tmp_path):
    root = _tree(tmp_path, {
        "rrm/__init__.py": "",
        "rrm/spec.py": "import numpy\nfrom .layers import build\n",
        "rrm/layers.py": "def build():\n    from rrm import spec\n",
        "hw/__init__.py": "",
        "hw/blocks.py": "from rrm.spec import Spec\n\ndef f():\n    from ..golden.bounds import x\n",
        "golden/__init__.py": "",
        "golden/bounds.py": "from . import ops\n",
        "golden/ops.py": "",
    })
    allowed = {"rrm": {"rrm"}, "hw": {"rrm", "hw"}, "golden": {"rrm", "golden"}}
    assert upward_imports(root, allowed) == [
        "hw.blocks (line 4) imports golden.bounds: hw/ may import only hw, rrm"]
    assert import_cycles(root, allowed) == [
        "import cycle: rrm.layers (line 2) -> rrm.spec (line 2) -> rrm.layers"]
