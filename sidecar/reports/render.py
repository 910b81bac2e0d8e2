"""The reports as HTML: Jinja2 over the templates in reports/templates/, with no web framework.

The app makes one Environment (create_app) and hands it to what renders, so each template is
compiled once per process; the Moodle fragments, the console's report page and the PDF render
the same templates.
"""
from jinja2 import Environment, PackageLoader, select_autoescape

from .report import METRIC_LABELS


def templates():
    """An Environment over the reports' templates, escaping what .html templates print."""
    return Environment(loader=PackageLoader("sidecar.reports"), autoescape=select_autoescape())


def attempt_report_html(templates, report, image_base, full_size_links=True, link_base=""):
    """The attempt report's HTML fragment; its images are <image_base><camshot id> (?size=thumb for thumbnails),
    the thumbnails linked to the full-size image unless full_size_links is false; another student recognised
    and named links to <link_base><their attempt id> when link_base is given."""
    return templates.get_template("attempt_report.html").render(
        r=report, image_base=image_base, full_size_links=full_size_links, link_base=link_base)


def quiz_overview_html(templates, quiz_id, rows, total, params, link_base, sort_links, zone):
    """The quiz overview's HTML fragment, from rows as overview.display_rows gives them; its times are in zone."""
    return templates.get_template("quiz_overview.html").render(
        rows=rows, total=total, params=params, quiz_id=quiz_id, link_base=link_base, sort_links=sort_links,
        metric_labels=METRIC_LABELS, zone=zone.key)
