"""Bar and line charts as PNG bytes (matplotlib, Agg backend: no display needed).

Figures arrive as exact decimals; they become floats only here, as positions on a picture.
Axis labels are exact: `MoneyFormatter` gives every tick the decimals it needs (£1.25m, never
"£1.2m" for 1,250,000). RAG charts are red, amber and green, with the words and counts on the
bars for readers who do not see colour. Legends sit outside the plot, never over the data.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

PALETTE = ("#00285f", "#c26e00", "#2b8cbe", "#6a3d9a", "#4d8c57", "#7f6a93", "#888888")
RAG_COLOURS = {"Red": "#c0392b", "Amber": "#f0a30a", "Green": "#2e7d32"}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["font.family"] = ["Liberation Sans", "DejaVu Sans"]
    return plt


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(
        buffer, format="png", dpi=110, bbox_inches="tight", pad_inches=0.15, metadata={"Software": None}
    )
    _pyplot().close(fig)
    return buffer.getvalue()


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (Decimal, int, float)) else 0.0


def money_labels(values: Sequence[float]) -> list[str]:
    """Tick labels in one unit (£m, £k or £) with as many decimals as the ticks need to be exact."""
    finite = [v for v in values if v == v]
    largest = max((abs(v) for v in finite), default=0.0)
    scale, suffix = (1e6, "m") if largest >= 1e6 else (1e3, "k") if largest >= 1e4 else (1.0, "")
    places = 0
    while places < 3 and any(abs(round(v / scale, places) * scale - v) > 0.5 for v in finite):
        places += 1
    labels = []
    for v in values:
        text = f"{abs(v) / scale:,.{places}f}"
        labels.append(("-" if v < 0 else "") + f"£{text}{suffix}" if v != 0 else "£0")
    return labels


def _money_axis(axis: Any) -> None:
    from matplotlib.ticker import Formatter

    class MoneyFormatter(Formatter):
        def format_ticks(self, values: Sequence[float]) -> list[str]:
            return money_labels(list(values))

        def __call__(self, x: float, pos: int | None = None) -> str:
            return money_labels([x])[0]

    axis.set_major_formatter(MoneyFormatter())


def _legend_outside(ax: Any) -> None:
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)


def bar_chart(
    labels: Sequence[str],
    series: Mapping[str, Sequence[Any]],
    title: str,
    *,
    money: bool = True,
    ylabel: str = "",
    reference: tuple[str, Any] | None = None,
) -> bytes:
    """Grouped vertical bars, one group per label, one colour per series."""
    plt = _pyplot()
    width = max(6.5, min(13.0, 0.5 * len(labels) * max(1, len(series)) + 3))
    fig, ax = plt.subplots(figsize=(width, 4.0))
    count = max(1, len(series))
    bar = 0.8 / count
    for index, (name, values) in enumerate(series.items()):
        positions = [i - 0.4 + bar * (index + 0.5) for i in range(len(labels))]
        ax.bar(positions, [_number(v) for v in values], bar, label=name, color=PALETTE[index % len(PALETTE)])
    if reference is not None:
        ax.axhline(_number(reference[1]), color="#444444", linestyle="--", linewidth=1.2, label=reference[0])
    ax.set_xticks(range(len(labels)))
    rotate = len(labels) > 6 or max((len(s) for s in labels), default=0) > 14
    ax.set_xticklabels(labels, rotation=40 if rotate else 0, ha="right" if rotate else "center", fontsize=8)
    ax.set_title(title, loc="left", fontsize=11)
    ax.axhline(0, color="#444444", linewidth=0.6)
    if money:
        _money_axis(ax.yaxis)
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    if len(series) > 1 or reference is not None:
        _legend_outside(ax)
    return _png(fig)


def rag_chart(labels: Sequence[str], counts: Mapping[str, Sequence[int]], title: str) -> bytes:
    """Horizontal stacked bars of how many SLAs are red, amber and green on each KPI.

    Red, amber and green in their own colours, each segment labelled with its count, and the
    legend naming them: the colours are never the only way to read it.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(labels) + 1.4))
    left = [0.0] * len(labels)
    positions = list(range(len(labels)))[::-1]
    for name in ("Red", "Amber", "Green"):
        values = [float(v) for v in counts.get(name, [0] * len(labels))]
        bars = ax.barh(positions, values, left=left, color=RAG_COLOURS[name], label=name, edgecolor="white")
        text_colour = "black" if name == "Amber" else "white"
        ax.bar_label(
            bars,
            labels=[f"{name[0]} {int(v)}" if v else "" for v in values],
            label_type="center",
            color=text_colour,
            fontsize=7,
        )
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_yticks(positions)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel("SLAs")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_title(title, loc="left", fontsize=11)
    ax.spines[["top", "right"]].set_visible(False)
    _legend_outside(ax)
    return _png(fig)


def line_chart(
    x: Sequence[str],
    series: Mapping[str, Sequence[Any]],
    title: str,
    *,
    money: bool = True,
    ylabel: str = "",
    part_years: Mapping[str, str] | None = None,
) -> bytes:
    """Lines over x; `part_years` marks each x that is not a whole year (label -> note)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 4.0))
    for index, (name, values) in enumerate(series.items()):
        ax.plot(
            range(len(x)),
            [_number(v) if v is not None else float("nan") for v in values],
            marker="o",
            markersize=3,
            label=name,
            color=PALETTE[index % len(PALETTE)],
        )
    step = max(1, len(x) // 12)
    ticks = list(range(0, len(x), step))
    notes = part_years or {}
    ax.set_xticks(ticks)
    ax.set_xticklabels(
        [f"{x[i]}\n({notes[x[i]]})" if x[i] in notes else x[i] for i in ticks], rotation=0, fontsize=8
    )
    for i, label in enumerate(x):
        if label in notes:
            ax.axvspan(i - 0.4, i + 0.4, color="#dddddd", alpha=0.6, zorder=0, lw=0)
    ax.set_title(title, loc="left", fontsize=11)
    if money:
        _money_axis(ax.yaxis)
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    if len(series) > 1:
        _legend_outside(ax)
    return _png(fig)
