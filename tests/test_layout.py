"""The layout the README promises, read from the source: the package's modules import each
other in layers (no cycle; the order of README's Layout and of each subpackage's docstring; no
``rnn_gnn`` import inside a function), every experiment CLI stays thin, and every ``--help``
shows its examples and outputs, with one underscore spelling per flag and no
"(default: None)"."""

from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path

import pytest

from conftest import ROOT, load_experiment

PACKAGE = ROOT / "rnn_gnn"
CLIS = sorted(p.stem for p in (ROOT / "experiments").glob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The ``rnn_gnn`` modules an import statement of ``module`` names: ``from pkg import x``
    is ``pkg.x`` where that is a module, else ``pkg`` (a name its ``__init__`` defines)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "rnn_gnn"]
    base = node.module or ""
    if node.level:   # relative: resolved against the importing module's package
        here = module.split(".") if MODULES[module].name == "__init__.py" else \
            module.split(".")[:-1]
        base = ".".join(here[:len(here) - node.level + 1] + ([base] if base else []))
    if base.split(".")[0] != "rnn_gnn":
        return []
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]


def imports(module: str) -> tuple[set[str], list[str]]:
    """``(module-level rnn_gnn imports, "line: import" of each one inside a function or
    class)``."""
    top, inner = set(), []

    def visit(node, nested):
        for child in ast.iter_child_nodes(node):
            deeper = nested or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                  ast.ClassDef, ast.Lambda))
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                names = imported(module, child)
                if deeper and names:
                    inner.append(f"{child.lineno}: {', '.join(names)}")
                elif not deeper:
                    top.update(n for n in names if n != module)
            visit(child, deeper)
    visit(ast.parse(MODULES[module].read_text()), False)
    return top, inner


GRAPH = {m: imports(m)[0] for m in MODULES}


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (module -> the modules it imports), or None."""
    state, path = {}, []

    def walk(m):
        state[m], path[len(path):] = "open", [m]
        for n in sorted(graph.get(m, ())):
            if state.get(n) == "open":
                return path[path.index(n):] + [n]
            if n not in state and (found := walk(n)):
                return found
        state[m] = "done"
        path.pop()
        return None
    for m in sorted(graph):
        if m not in state and (found := walk(m)):
            return found
    return None


def test_cycle_finds_a_cycle_and_only_a_cycle():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert imported("rnn_gnn.graph.layers", ast.parse("from . import graphs").body[0]) == \
        ["rnn_gnn.graph.graphs"]
    assert imported("rnn_gnn.train", ast.parse("from rnn_gnn.errors import Error").body[0]) == \
        ["rnn_gnn.errors"]


def test_the_package_has_no_import_cycle():
    assert len(MODULES) > 40 and sum(map(len, GRAPH.values())) > 100   # the walk saw imports
    assert cycle(GRAPH) is None


def test_no_rnn_gnn_import_inside_a_function():
    inner = {m: found for m in MODULES if (found := imports(m)[1])}
    assert inner == {}


def layout_order() -> list[str]:
    """The top-level modules and subpackages in the order README's Layout lists them."""
    text = (ROOT / "README.md").read_text()
    block = text[text.index("## Layout"):]
    block = block[block.index("```\nrnn_gnn/"):block.index("\nexperiments/")]
    return re.findall(r"^  (\w+)(?:\.py|/)", block, re.M)


def test_every_module_imports_only_what_readme_lists_below_it():
    order = layout_order()
    top = sorted({m.split(".")[1] for m in MODULES if m != "rnn_gnn"})
    assert sorted(order) == top, "README's Layout does not list every module and subpackage"
    rank = {name: i for i, name in enumerate(order)}
    against = [f"{m} imports {n}" for m, names in GRAPH.items() if m != "rnn_gnn"
               for n in names if n != "rnn_gnn"
               if rank[n.split(".")[1]] > rank[m.split(".")[1]]]
    assert against == []


SUBPACKAGES = sorted(m for m in MODULES if MODULES[m].name == "__init__.py" and m != "rnn_gnn")


@pytest.mark.parametrize("package", SUBPACKAGES)
def test_each_subpackage_lists_its_modules_bottom_up(package):
    doc = ast.get_docstring(ast.parse(MODULES[package].read_text()))
    order = re.findall(r"^`{0,2}(\w+)`{0,2} {2,}\S", doc, re.M)
    inside = sorted(m.rsplit(".", 1)[1] for m in MODULES if m.rsplit(".", 1)[0] == package)
    assert sorted(order) == inside, f"{package}'s docstring does not list its modules"
    rank = {f"{package}.{name}": i for i, name in enumerate(order)}
    against = [f"{m} imports {n}" for m in rank for n in GRAPH[m] if rank.get(n, -1) > rank[m]]
    assert against == []


@pytest.mark.parametrize("name", CLIS)
def test_every_experiment_is_thin(name):
    assert len((ROOT / "experiments" / f"{name}.py").read_text().splitlines()) <= 150


@pytest.mark.parametrize("name", CLIS)
def test_help_shows_examples_outputs_and_one_spelling_per_flag(name, monkeypatch, capsys):
    parsers = []
    parse = argparse.ArgumentParser.parse_known_args

    def spy(self, *args, **kwargs):
        parsers.append(self)
        return parse(self, *args, **kwargs)
    monkeypatch.setattr(argparse.ArgumentParser, "parse_known_args", spy)
    module = load_experiment(name)
    with pytest.raises(SystemExit) as exit_:
        getattr(module, "parse_args", module.main)(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert text.count(f"python experiments/{name}.py") >= 2, "examples missing from --help"
    assert re.search(r"^(Writes|Prints)", text, re.M), "outputs missing from --help"
    assert "(default: None)" not in text
    actions = [a for a in parsers[0]._actions if a.option_strings and a.dest != "help"]
    assert actions
    for a in actions:
        assert len(a.option_strings) == 1, f"two spellings: {a.option_strings}"
        flag = a.option_strings[0]
        assert re.fullmatch(r"--[a-z0-9]+(_[a-z0-9]+)*", flag), flag
        assert a.help, f"{flag} has no help"
