"""Charts drawn with Pillow as PNG images, for channels that show pictures (``/stats``).

:func:`daily_bars` draws one stacked bar per day: a segment per series (a channel), a
y axis with round steps, day labels spaced so they never overlap, and a legend. It is
plain CPU work that takes a few milliseconds: call it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 1200, 640
# room around the plot: y labels on the left, title and legend above, days below
LEFT, RIGHT, TOP, BOTTOM = 80, 50, 100, 70
BACKGROUND = (255, 255, 255)
INK = (31, 41, 55)
MUTED = (107, 114, 128)
GRID = (229, 231, 235)
#: series colours, in order: distinguishable, and readable in grey scale too
PALETTE = (
    (37, 99, 235),
    (234, 88, 12),
    (22, 163, 74),
    (147, 51, 234),
    (220, 38, 38),
    (8, 145, 178),
)
_MAX_LABELS = 10  # day labels along the x axis


@dataclass(frozen=True, slots=True)
class Series:
    """One stacked segment of every bar: a name for the legend and a value per day."""

    label: str
    values: tuple[int, ...]


def daily_bars(days: Sequence[date], series: Sequence[Series], *, title: str) -> bytes:
    """A stacked bar chart of ``series`` over ``days``, as PNG bytes."""
    if not days:
        raise ValueError("a chart needs at least one day")
    if any(len(s.values) != len(days) for s in series):
        raise ValueError("every series needs one value per day")
    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(image)
    regular, small = ImageFont.load_default(size=16), ImageFont.load_default(size=14)
    draw.text((LEFT, 28), title, fill=INK, font=ImageFont.load_default(size=22))
    _legend(draw, series, small)
    totals = [sum(s.values[n] for s in series) for n in range(len(days))]
    step, top = _scale(max(totals, default=0))
    plot = (LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM)
    _y_axis(draw, plot, step, top, small)
    _bars(draw, plot, series, len(days), top)
    _x_axis(draw, plot, days, small)
    if not any(totals):
        middle = ((plot[0] + plot[2]) // 2, (plot[1] + plot[3]) // 2)
        draw.text(middle, "No messages yet", fill=MUTED, font=regular, anchor="mm")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _scale(highest: int) -> tuple[int, int]:
    """A round step (1, 2 or 5 times a power of ten) giving about five gridlines, and
    the top of the axis: the first multiple of the step at or above ``highest``."""
    rough = max(highest, 1) / 5
    power = 10 ** math.floor(math.log10(rough)) if rough >= 1 else 1
    step = next(f * power for f in (1, 2, 5, 10) if f * power >= rough)
    return step, max(step, math.ceil(highest / step) * step)


def _legend(
    draw: ImageDraw.ImageDraw,
    series: Sequence[Series],
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
) -> None:
    x = LEFT
    for n, one in enumerate(series):
        colour = PALETTE[n % len(PALETTE)]
        draw.rectangle((x, 68, x + 14, 82), fill=colour)
        draw.text((x + 20, 75), one.label, fill=INK, font=font, anchor="lm")
        x += 20 + int(draw.textlength(one.label, font=font)) + 28


def _y_axis(
    draw: ImageDraw.ImageDraw,
    plot: tuple[int, int, int, int],
    step: int,
    top: int,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
) -> None:
    left, upper, right, lower = plot
    for value in range(0, top + 1, step):
        y = lower - (lower - upper) * value / top
        draw.line((left, y, right, y), fill=GRID if value else MUTED, width=1)
        draw.text((left - 10, y), f"{value:,}", fill=MUTED, font=font, anchor="rm")


def _bars(
    draw: ImageDraw.ImageDraw,
    plot: tuple[int, int, int, int],
    series: Sequence[Series],
    count: int,
    top: int,
) -> None:
    left, upper, right, lower = plot
    slot = (right - left) / count
    width = max(slot * 0.7, 1)
    for n in range(count):
        x = left + slot * n + (slot - width) / 2
        base = 0
        for index, one in enumerate(series):
            value = one.values[n]
            if value <= 0:
                continue
            y0 = lower - (lower - upper) * base / top
            y1 = lower - (lower - upper) * (base + value) / top
            draw.rectangle((x, y1, x + width, y0 - 1), fill=PALETTE[index % len(PALETTE)])
            base += value


def _x_axis(
    draw: ImageDraw.ImageDraw,
    plot: tuple[int, int, int, int],
    days: Sequence[date],
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
) -> None:
    left, _, right, lower = plot
    slot = (right - left) / len(days)
    every = math.ceil(len(days) / _MAX_LABELS)
    # counted back from the last day, so that today always has its label
    for n in range(len(days) - 1, -1, -every):
        x = left + slot * (n + 0.5)
        draw.line((x, lower, x, lower + 5), fill=MUTED)
        draw.text(
            (x, lower + 10), f"{days[n].day} {days[n]:%b}", fill=MUTED, font=font, anchor="ma"
        )
