"""A KPI's daily values as a small PNG sparkline, for the email review (Pillow, in memory).

The line joins the known days (a day without a value breaks it), scaled between the
period's lowest and highest value; the last known day is a dot. It is drawn at twice its
displayed size so that it stays sharp on high-density screens.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

from PIL import Image, ImageDraw

from kpis.review.model import Review

SPARK_WIDTH = 120  # displayed size, in CSS pixels
SPARK_HEIGHT = 28
SCALE = 2  # image pixels per CSS pixel
BACKGROUND = (255, 255, 255)
LINE = (62, 76, 89)  # the page's text colour, lighter
LAST = (24, 121, 78)  # the page's "better" green
MARGIN = 3 * SCALE  # keeps the line and the dot inside the image


def _points(values: Sequence[float | None]) -> list[tuple[float, float] | None]:
    """Each day's position in the image; None for a day without a value."""
    known = [value for value in values if value is not None]
    low, high = min(known), max(known)
    width, height = SPARK_WIDTH * SCALE, SPARK_HEIGHT * SCALE
    step = (width - 2 * MARGIN) / (len(values) - 1)
    span = high - low
    points: list[tuple[float, float] | None] = []
    for index, value in enumerate(values):
        if value is None:
            points.append(None)
            continue
        fraction = (value - low) / span if span else 0.5
        points.append((MARGIN + index * step, height - MARGIN - fraction * (height - 2 * MARGIN)))
    return points


def sparkline_png(values: Sequence[float | None]) -> bytes | None:
    """The PNG of the values, oldest first; None with fewer than two known values."""
    if len(values) < 2 or sum(value is not None for value in values) < 2:
        return None
    image = Image.new("RGB", (SPARK_WIDTH * SCALE, SPARK_HEIGHT * SCALE), BACKGROUND)
    draw = ImageDraw.Draw(image)
    run: list[tuple[float, float]] = []
    points = _points(values)
    for point in [*points, None]:
        if point is not None:
            run.append(point)
            continue
        if len(run) > 1:
            draw.line(run, fill=LINE, width=SCALE, joint="curve")
        run = []
    x, y = next(point for point in reversed(points) if point is not None)
    radius = 2 * SCALE
    draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=LAST)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def sparklines(review: Review) -> dict[str, bytes]:
    """The PNG of each KPI with a trend of at least two known days, in the review's order."""
    found = {}
    for line in review.kpis:
        png = sparkline_png(review.trends.get(line.kpi.name, ()))
        if png is not None:
            found[line.kpi.name] = png
    return found


def data_uris(images: dict[str, bytes]) -> dict[str, str]:
    """Each image as a `data:` URI, for a page opened from a file."""
    return {
        name: "data:image/png;base64," + base64.b64encode(png).decode()
        for name, png in images.items()
    }
