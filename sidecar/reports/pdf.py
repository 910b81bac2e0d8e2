"""The attempt report as an A4 PDF: WeasyPrint, with every image embedded from the image store."""
import base64
import io
import os
from concurrent.futures import ThreadPoolExecutor

from PIL import Image, ImageDraw

from ..camshots import originals, png_bytes
from .report import build_report, time_zone

PDF_THUMB_WIDTH = 240  # pixels: 43 mm wide prints at about 140 dpi
JPEG_QUALITY = 80      # embedded as-is (DCT) in the PDF, so no re-compression at render time
MISSING_IMAGE = "data:image/svg+xml;base64," + base64.b64encode(
    b'<svg xmlns="http://www.w3.org/2000/svg" width="240" height="180"><rect width="240" height="180" fill="#eceef0"/>'
    b'<text x="120" y="95" font-size="16" text-anchor="middle" fill="#6a737b" font-family="DejaVu Sans">'
    b'image missing</text></svg>'
).decode()


def thumbnail_uri(images, key, boxes=(), counted=False, original=None):
    """A JPEG data URI of the stored image scaled to PDF_THUMB_WIDTH, face boxes drawn in; a placeholder if
    it is gone or unreadable. A store that does not answer raises: a report without its images is no report.

    original: the camshot's original while it has one (camshots.originals), whose PNG is made here.
    """
    try:
        with Image.open(io.BytesIO(png_bytes(images, key, original))) as image:
            image = image.convert("RGB")
    except (OSError, ValueError):
        # A purged or damaged file must not take the whole report down.
        return MISSING_IMAGE
    original_width = image.width
    if image.width > PDF_THUMB_WIDTH:
        factor = image.width // PDF_THUMB_WIDTH
        if factor > 1:
            image = image.reduce(factor)  # integer reduction is several times faster than resampling
        height = max(1, round(image.height * PDF_THUMB_WIDTH / image.width))
        image = image.resize((PDF_THUMB_WIDTH, height), Image.Resampling.BILINEAR)
    scale = image.width / original_width
    if boxes:
        draw = ImageDraw.Draw(image)
        colour = (239, 68, 68) if counted else (34, 197, 94)
        for top, right, bottom, left in boxes:
            draw.rectangle([left * scale, top * scale, right * scale, bottom * scale], outline=colour, width=2)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=JPEG_QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode()


def pdf_images(db, report, images):
    """{id: data URI} of every reference photo and camshot of a report, boxes drawn in."""
    jobs = [(ref["id"], ref["path"], [], False) for ref in report["references"]]
    jobs += [(shot["id"], shot["path"], [b["pixels"] for b in shot["boxes"]], shot["counted"])
             for shot in report["identity_shots"] + report["shots"]]
    # Read here, as the connection stays in this thread; the few not converted yet are converted in the pool.
    pending = originals(db, [shot["id"] for shot in report["shots"]])
    # PNG decoding is most of the cost and Pillow releases the GIL while it decodes: one thread per core.
    with ThreadPoolExecutor(max_workers=len(os.sched_getaffinity(0))) as pool:
        uris = pool.map(lambda job: thumbnail_uri(images, *job[1:], original=pending.get(job[0])), jobs)
        return {job[0]: uri for job, uri in zip(jobs, uris)}


def attempt_pdf(db, attempt_id, config, images, templates, zone):
    """The PDF of one attempt's report as its rows are now."""
    return render_pdf(db, build_report(db, config, attempt_id, zone), images, templates)


def attempt_pdfs(config, images, templates):
    """attempt_pdf(db, attempt_id) under these settings, times in the configured zone: an export's report_pdf."""
    zone = time_zone(None, config["reports.timezone"])
    return lambda db, attempt_id: attempt_pdf(db, attempt_id, config, images, templates, zone)


def render_pdf(db, report, images, templates):
    """PDF bytes of a report built by build_report: page 1 summary, then the camshots counted against the
    score, then the rest.

    templates: the Environment of render.templates().
    """
    # Imported on use: WeasyPrint loads Pango, which nothing but PDF rendering needs.
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    html = templates.get_template("attempt_report_pdf.html").render(
        r=report, images=pdf_images(db, report, images),
        counted=[s for s in report["shots"] if s["counted"]],
        others=[s for s in report["shots"] if not s["counted"]],
    )
    # No base_url, and data: the only protocol: the PDF holds nothing but what is inlined here.
    return HTML(string=html, url_fetcher=URLFetcher(allowed_protocols=("data",))).write_pdf()
