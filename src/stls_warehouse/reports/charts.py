"""Bar and line charts as PNG bytes (matplotlib, Agg backend: no display needed).

Figures arrive as exact decimals; they become floats only here, as positions on a picture.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

PALETTE = ("#00285f", "#d4a017", "#5b9bd5", "#a00000", "#4d8c57", "#7f6a93", "#888888")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    _pyplot().close(fig)
    return buffer.getvalue()


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (Decimal, int, float)) else 0.0


def _money_axis(ax: Any) -> None:
    from matplotlib.ticker import FuncFormatter

    def label(value: float, _: Any) -> str:
        if abs(value) >= 1_000_000:
            return f"£{value / 1_000_000:,.1f}m"
        if abs(value) >= 10_000:
            return f"£{value / 1_000:,.0f}k"
        if abs(value) >= 1_000:
            return f"£{value / 1_000:,.1f}k"
        return f"£{value:,.0f}"

    ax.yaxis.set_major_formatter(FuncFormatter(label))


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
    width = max(6.0, min(14.0, 0.55 * len(labels) * max(1, len(series)) + 2))
    fig, ax = plt.subplots(figsize=(width, 3.8))
    count = max(1, len(series))
    bar = 0.8 / count
    for index, (name, values) in enumerate(series.items()):
        positions = [i - 0.4 + bar * (index + 0.5) for i in range(len(labels))]
        ax.bar(positions, [_number(v) for v in values], bar, label=name, color=PALETTE[index % len(PALETTE)])
    if reference is not None:
        ax.axhline(_number(reference[1]), color="#a00000", linestyle="--", linewidth=1, label=reference[0])
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(
        labels, rotation=45 if len(labels) > 6 else 0, ha="right" if len(labels) > 6 else "center"
    )
    ax.set_title(title, loc="left", fontsize=11)
    ax.axhline(0, color="#444444", linewidth=0.6)
    if money:
        _money_axis(ax)
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    if len(series) > 1 or reference is not None:
        ax.legend(frameon=False, fontsize=8)
    return _png(fig)


def line_chart(
    x: Sequence[str],
    series: Mapping[str, Sequence[Any]],
    title: str,
    *,
    money: bool = True,
    ylabel: str = "",
) -> bytes:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 3.8))
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
    ax.set_xticks(range(0, len(x), step))
    ax.set_xticklabels(list(x)[::step], rotation=45, ha="right")
    ax.set_title(title, loc="left", fontsize=11)
    if money:
        _money_axis(ax)
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    if len(series) > 1:
        ax.legend(frameon=False, fontsize=8, ncol=min(4, len(series)))
    return _png(fig)
