"""Imports between the project's folders go one way, and an import inside a function says why."""
import ast
import pathlib

REPO = pathlib.Path(__file__).resolve().parent.parent
# A folder may import only from folders of a lower rank (and from itself). Equal ranks are
# siblings that must not know each other: the graph store, the LLM and the guide are separate.
RANK = {"schemas": 0, "kg": 1, "llm": 1, "models": 1, "runners": 1, "transforms": 2, "pipeline": 3}


def project_imports(path: pathlib.Path):
    """(line, imported folder, inside a function) for every ``mmkg.*`` import of a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nested = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
              for n in ast.walk(f) if n is not f}
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "mmkg" and len(parts) > 1:
                yield node.lineno, parts[1], id(node) in nested


def modules():
    for folder in RANK:
        yield from ((folder, p) for p in sorted((REPO / folder).rglob("*.py")))


def test_imports_go_one_way():
    wrong = [f"{p.relative_to(REPO)}:{line} imports mmkg.{target}"
             for folder, p in modules() for line, target, _ in project_imports(p)
             if target != folder and RANK.get(target, 99) >= RANK[folder]]
    assert not wrong, "\n".join(wrong)


def test_an_import_inside_a_function_says_why():
    silent = []
    for _, path in modules():
        lines = path.read_text(encoding="utf-8").splitlines()
        for line, target, inside in project_imports(path):
            if not inside:
                continue
            above = [l.strip() for l in lines[max(0, line - 4):line - 1]]
            if not any(l.startswith("#") for l in above) and "#" not in lines[line - 1]:
                silent.append(f"{path.relative_to(REPO)}:{line}")
    assert not silent, "project imports inside functions without a comment saying why: " + ", ".join(silent)
