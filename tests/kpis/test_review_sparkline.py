"""The sparkline PNGs: decoded back with Pillow, their size, and pixels that follow the data."""

from __future__ import annotations

import base64
import io
from dataclasses import replace

from PIL import Image

from kpis.review.model import build_review
from kpis.review.render import to_html, to_json
from kpis.review.sparkline import (
    BACKGROUND,
    SCALE,
    SPARK_HEIGHT,
    SPARK_WIDTH,
    data_uris,
    sparkline_png,
    sparklines,
)
from kpis.units import USD
from tests.kpis.test_review import SNAPSHOT


def decoded(png: bytes | None) -> Image.Image:
    assert png is not None
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return image.convert("RGB")


def drawn_rows(image: Image.Image, x: int) -> list[int]:
    """The rows of column `x` that are not background."""
    return [y for y in range(image.height) if image.getpixel((x, y)) != BACKGROUND]


def test_the_png_has_its_size_and_follows_the_data() -> None:
    rising = decoded(sparkline_png([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]))
    falling = decoded(sparkline_png([7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0]))
    assert rising.size == falling.size == (SPARK_WIDTH * SCALE, SPARK_HEIGHT * SCALE)
    left, middle = 8 * SCALE, rising.width // 2
    # Image rows grow downwards: a rising line is lower on the left than in the middle.
    assert min(drawn_rows(rising, left)) > max(drawn_rows(rising, middle))
    assert max(drawn_rows(falling, left)) < min(drawn_rows(falling, middle))
    assert rising.tobytes() != falling.tobytes()


def test_a_day_without_a_value_breaks_the_line() -> None:
    image = decoded(sparkline_png([1.0, 2.0, None, None, None, 2.0, 1.0]))
    assert drawn_rows(image, image.width // 2) == []  # the middle day has no value
    assert drawn_rows(image, 8 * SCALE) != []


def test_fewer_than_two_values_give_no_image() -> None:
    assert sparkline_png([]) is None
    assert sparkline_png([None, 3.0, None]) is None
    assert decoded(sparkline_png([3.0, 3.0])).size[0] == SPARK_WIDTH * SCALE  # flat: drawn


def test_the_page_shows_a_trend_column_only_with_sparklines() -> None:
    review = build_review(SNAPSHOT, "week")
    assert sparklines(review) == {} and "trend</th>" not in to_html(review, USD)
    trended = replace(review, trends={"csat": (0.7, 0.75, 0.8), "mrr": (None, 1.0, None)})
    images = sparklines(trended)
    assert list(images) == ["csat"]  # mrr has one known day only
    uris = data_uris(images)
    assert base64.b64decode(uris["csat"].removeprefix("data:image/png;base64,")) == images["csat"]
    page = to_html(trended, USD, uris)
    assert "<th>trend</th>" in page and f'<img src="{uris["csat"]}"' in page
    trend = {line["kpi"]: line["trend"] for line in to_json(trended)["kpis"]}
    assert trend["csat"] == [0.7, 0.75, 0.8] and trend["mrr"] == [None, 1.0, None]
    assert trend["nps"] is None
