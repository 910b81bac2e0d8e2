"""The sidecar's layers, read from its imports: routes are reached from the app factory only, the
domain never touches Flask, and no module imports another inside a function to dodge a cycle."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sidecar"
SOURCES = sorted(PACKAGE.rglob("*.py"))
FACTORY = "sidecar"
# Attempts, camshots, events, scores and what is done with them: database and configuration come in as arguments.
DOMAIN = (
    "sidecar.allowances", "sidecar.attempts", "sidecar.camshots", "sidecar.live", "sidecar.scoring", "sidecar.storage",
    "sidecar.storage.folder", "sidecar.storage.layout", "sidecar.storage.repair", "sidecar.storage.s3",
    "sidecar.validation",
    "sidecar.analysis.camshots", "sidecar.analysis.queue", "sidecar.analysis.references",
    "sidecar.retention.export", "sidecar.retention.policy", "sidecar.retention.purge", "sidecar.retention.selection",
)
# The command line loads the analysis workers, the scheduler, dlib and the demo only for the commands that run them.
LAZY_LOADERS = ("sidecar.cli",)


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in SOURCES}


def imports(path):
    """(module imported, whether at module level) for every import in a source file."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    top_level = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, id(node) in top_level
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield (submodule if submodule in MODULES else base), id(node) in top_level


def route_modules():
    """Modules that add routes to a blueprint."""
    return {name for name, path in MODULES.items() if "@bp." in path.read_text()}


def test_route_modules_are_found():
    assert {"sidecar.capture_api", "sidecar.direct_upload", "sidecar.console.views", "sidecar.console.session",
            "sidecar.analysis.api", "sidecar.retention.api", "sidecar.reports.api"} == route_modules()


@pytest.mark.parametrize("path", SOURCES, ids=module_name)
def test_only_the_app_factory_imports_route_modules(path):
    if module_name(path) == FACTORY:
        return
    imported = {target for target, _ in imports(path)} & route_modules()
    assert not imported, f"{module_name(path)} imports {sorted(imported)}; move what it needs into the domain"


@pytest.mark.parametrize("name", DOMAIN)
def test_domain_modules_do_not_use_flask(name):
    used = {target for target, _ in imports(MODULES[name]) if target.split(".")[0] in ("flask", "werkzeug")}
    assert not used, f"{name} imports {sorted(used)}; take the database and configuration as arguments"


@pytest.mark.parametrize("path", SOURCES, ids=module_name)
def test_sidecar_modules_are_imported_at_the_top(path):
    if module_name(path) in LAZY_LOADERS:
        return
    deferred = {target for target, top in imports(path) if not top and target in MODULES}
    assert not deferred, f"{module_name(path)} imports {sorted(deferred)} inside a function"


def test_module_imports_form_no_cycle():
    graph = {name: {t for t, top in imports(path) if top and t in MODULES and t != name}
             for name, path in MODULES.items()}
    done, path = set(), []

    def visit(name):
        if name in path:
            raise AssertionError("import cycle: " + " -> ".join(path[path.index(name):] + [name]))
        if name in done:
            return
        path.append(name)
        for target in sorted(graph[name]):
            visit(target)
        path.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)
