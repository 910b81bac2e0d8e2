"""axe-core in a Playwright page: the WCAG 2.1 A and AA rules, and the serious or critical violations they find.

axe-core is the npm package tests/browser/package.json pins (`make test` installs it)."""
from conftest import REPO

AXE = REPO / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = ("serious", "critical")


def violations(page, regions=None):
    """The serious and critical violations on the page, as {rule: [what it asks, target, ...]}.

    regions: CSS selectors of the parts to check (the plugin's own markup inside a Moodle page); the
    whole page when None. A selector that matches nothing is a test's mistake, so it fails.
    """
    assert AXE.exists(), f"{AXE} is missing: run `npm install --prefix tests/browser`"
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    if regions:
        for selector in regions:
            assert page.locator(selector).count(), f"no {selector} on {page.url}"
    result = page.evaluate(
        """([include, tags]) => axe.run(include ? {include: include.map((s) => [s])} : document,
                                        {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})""",
        [regions, WCAG_21_AA])
    return {v["id"]: [v["help"], *(" ".join(map(str, node["target"])) for node in v["nodes"])]
            for v in result["violations"] if v["impact"] in BLOCKING}
