"""The sidecar's floors, read from its imports: routes live in views/ and console/ only and are reached
from the app factory only, nothing else touches Flask, route and command modules hold no SQL, and no
module imports another inside a function to dodge a cycle."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sidecar"
SOURCES = sorted(PACKAGE.rglob("*.py"))
FACTORY = "sidecar"
# The web's floors: routes, request hooks and pages. Everything else is the domain, which takes the
# database and the configuration as arguments.
WEB = ("sidecar.views", "sidecar.console")
WEB_FRAMEWORKS = ("flask", "werkzeug")
# Ways a module adds a route: a blueprint's decorator, or a rule added to the app.
ROUTE_MARKS = ("@bp.", ".add_url_rule(")
# Modules of the command line speak click.
COMMAND_MARKS = ("import click",)
# Modules of the command line that start the app: the demo loads its attempts through the real API.
APP_STARTERS = ("sidecar.cli", "sidecar.demo")
# The command line loads the analysis workers, the scheduler, dlib and the demo only for the commands that run them.
LAZY_LOADERS = ("sidecar.cli",)


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in SOURCES}


def in_web(name):
    return any(name == floor or name.startswith(floor + ".") for floor in WEB)


def holds(name, marks):
    text = MODULES[name].read_text()
    return any(mark in text for mark in marks)


ROUTE_MODULES = {name for name in MODULES if holds(name, ROUTE_MARKS)}
# The domain: every module below the web and the app factory, found by its folder.
DOMAIN = [name for name in MODULES if not in_web(name) and name != FACTORY]


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


def test_every_route_module_is_found():
    assert {"sidecar.views.capture", "sidecar.views.direct", "sidecar.views.identity", "sidecar.views.reports",
            "sidecar.views.retention", "sidecar.views.metrics", "sidecar.console.views",
            "sidecar.console.session"} <= ROUTE_MODULES


@pytest.mark.parametrize("name", sorted(ROUTE_MODULES))
def test_only_views_and_the_console_hold_routes(name):
    assert in_web(name), f"{name} adds routes; routes live in sidecar/views/"


@pytest.mark.parametrize("name", sorted(set(MODULES) - {FACTORY}))
def test_only_the_app_factory_imports_route_modules(name):
    imported = {target for target, _ in imports(MODULES[name])} & ROUTE_MODULES
    assert not imported, f"{name} imports {sorted(imported)}; move what it needs into the domain"


@pytest.mark.parametrize("name", DOMAIN)
def test_only_views_the_console_and_the_app_factory_use_flask(name):
    used = {target for target, _ in imports(MODULES[name]) if target.split(".")[0] in WEB_FRAMEWORKS}
    assert not used, f"{name} imports {sorted(used)}; take the database and configuration as arguments"


@pytest.mark.parametrize("name", [name for name in DOMAIN if name not in APP_STARTERS])
def test_the_domain_does_not_import_the_web(name):
    """Below views/ and console/, nothing reaches up to them or to the app factory that gathers them."""
    upward = {target for target, _ in imports(MODULES[name]) if in_web(target) or target == FACTORY}
    assert not upward, f"{name} imports {sorted(upward)}, which are above it"


@pytest.mark.parametrize("name", sorted(name for name in MODULES if holds(name, ROUTE_MARKS + COMMAND_MARKS)))
def test_route_and_command_modules_hold_no_sql(name):
    assert ".execute(" not in MODULES[name].read_text(), f"{name} runs SQL; give the query a name in the domain"


@pytest.mark.parametrize("name", sorted(set(MODULES) - set(LAZY_LOADERS)))
def test_sidecar_modules_are_imported_at_the_top(name):
    deferred = {target for target, top in imports(MODULES[name]) if not top and target in MODULES}
    assert not deferred, f"{name} imports {sorted(deferred)} inside a function"


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
