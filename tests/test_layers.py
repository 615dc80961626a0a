"""Imports between the project's folders go one way, modules import no circle, and an import
inside a function says why. Relative imports and imports inside functions count like any other."""
import ast
import pathlib

REPO = pathlib.Path(__file__).resolve().parent.parent
# A folder may import only from folders of a lower rank (and from itself). Equal ranks are
# siblings that must not know each other. Read top-down it is the data flow: the records, the
# torch runtime, the NER, the guide (which types pairs with the NER), the refiner (which reads the
# guide's scores), the Beam layer, the job, the commands. The graph store and the runners are
# leaves beside the runtime. Entity resolution sits on the runtime (it encodes the posts' texts with
# a sentence encoder) and below the NER (which types a handle by the name it spells with its
# normalisation).
RANK = {"schemas": 0, "runtime": 1, "kg": 1, "runners": 1, "resolve": 2, "ner": 3, "guide": 4, "refiner": 5,
        "transforms": 6, "pipeline": 7, "cli": 8}


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(["mmkg", *parts])


def project_imports(path: pathlib.Path, text: str = None):
    """(line, imported mmkg module, inside a function) for every project import of a module,
    relative ones resolved against the module's package."""
    tree = ast.parse(path.read_text(encoding="utf-8") if text is None else text)
    nested = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
              for n in ast.walk(f) if n is not f}
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # `from mmkg.kg import rows` imports the module mmkg.kg.rows
            names = [f"{module}.{a.name}" for a in node.names] + [module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "mmkg" and len(parts) > 1:
                yield node.lineno, name, id(node) in nested


def modules():
    for folder in RANK:
        yield from ((folder, p) for p in sorted((REPO / folder).rglob("*.py")))


def test_imports_go_one_way():
    wrong = [f"{p.relative_to(REPO)}:{line} imports {target}"
             for folder, p in modules() for line, target, _ in project_imports(p)
             if target.split(".")[1] != folder and RANK.get(target.split(".")[1], 99) >= RANK[folder]]
    assert not wrong, "\n".join(wrong)


def import_graph():
    known = {module_name(p): p for _, p in modules()}
    graph = {}
    for name, path in known.items():
        graph[name] = {t for _, t, _ in project_imports(path) if t in known and t != name}
    return graph


def test_no_module_imports_itself_through_others():
    graph = import_graph()
    # Tarjan's strongly connected components: any component of more than one module is a circle.
    index, low, stack, on_stack, circles, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
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
                circles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not circles, f"import circles: {circles}"


def test_the_checks_see_relative_and_nested_imports():
    # The kinds of import that hid the last circle (relative, inside a function) are read as
    # imports of their target like any other.
    text = "def f():\n    from .train import x\n    from ..guide import scorer\n"
    found = {(t, inside) for _, t, inside in project_imports(REPO / "ner" / "tagger.py", text)}
    assert {("mmkg.ner.train.x", True), ("mmkg.guide.scorer", True)} <= found


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
    assert not silent, "project imports inside functions without a comment saying why: " + ", ".join(sorted(set(silent)))


def test_every_installed_folder_is_ranked():
    tree = ast.parse((REPO / "setup.py").read_text(encoding="utf-8"))
    folders = next(ast.literal_eval(n.value) for n in ast.walk(tree)
                   if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "FOLDERS")
    assert set(folders) == set(RANK)
    assert not (REPO / "models").exists() and not (REPO / "llm").exists()
