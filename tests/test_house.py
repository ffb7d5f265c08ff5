"""The house rules that import-linter and ruff do not check: no import cycle anywhere in `bot/` (imports inside
functions included), a cheap `bot.nlu`, small modules."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOT = ROOT / "bot"
MAX_MODULE_LINES = 350


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def bot_modules() -> dict[str, Path]:
    return {module_name(path): path for path in BOT.rglob("*.py")}


def imported(tree: ast.AST, name: str, is_package: bool, known: set[str]) -> set[str]:
    """The bot modules a module imports anywhere in its body (functions included); `from X import Y` counts as
    importing X.Y when that is a module, else X."""
    found = set()
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {target for target in found if target in known}


def import_graph() -> dict[str, set[str]]:
    modules = bot_modules()
    known = set(modules)
    return {name: imported(ast.parse(path.read_text(encoding="utf-8")), name, path.name == "__init__.py", known)
            - {name} for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    tarjan = _Tarjan(graph)
    for node in sorted(graph):
        if node not in tarjan.index:
            tarjan.visit(node)
    return tarjan.found


class _Tarjan:
    def __init__(self, graph: dict[str, set[str]]) -> None:
        self.graph = graph
        self.index: dict[str, int] = {}
        self.low: dict[str, int] = {}
        self.stack: list[str] = []
        self.found: list[list[str]] = []

    def visit(self, node: str) -> None:
        self.index[node] = self.low[node] = len(self.index)
        self.stack.append(node)
        for target in sorted(self.graph[node]):
            if target not in self.index:
                self.visit(target)
                self.low[node] = min(self.low[node], self.low[target])
            elif target in self.stack:
                self.low[node] = min(self.low[node], self.index[target])
        if self.low[node] == self.index[node]:
            component = self.stack[self.stack.index(node):]
            del self.stack[self.stack.index(node):]
            if len(component) > 1:
                self.found.append(sorted(component))


def test_no_import_cycle_in_bot_including_imports_inside_functions():
    graph = import_graph()
    assert len(graph) > 50, "the walk found the package"
    assert cycles(graph) == []


def test_the_cycle_check_sees_imports_inside_functions():
    """The check itself: a cycle closed by an import inside a function is found."""
    known = {"bot.a", "bot.b"}
    a = ast.parse("from bot import b\n")
    b = ast.parse("def f():\n    from bot.a import thing\n")
    graph = {"bot.a": imported(a, "bot.a", False, known), "bot.b": imported(b, "bot.b", False, known)}
    assert cycles(graph) == [["bot.a", "bot.b"]]


def test_importing_the_normaliser_loads_no_web_queue_twilio_or_database_code():
    heavy = ("flask", "rq", "twilio", "sqlalchemy", "redis", "openai", "sklearn", "numpy")
    probe = f"import sys, bot.nlu.normalize; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == ""


def test_bot_init_is_a_docstring_only():
    tree = ast.parse((BOT / "__init__.py").read_text(encoding="utf-8"))
    assert len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr)


def test_no_module_in_bot_is_over_350_lines():
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in bot_modules().items()}
    assert {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES} == {}
