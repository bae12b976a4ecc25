"""A report as a list of blocks, rendered to HTML, and from that same HTML to a tagged PDF.

Tables keep the exact published value of every figure beside its display text: in HTML each
cell carries it in `data-value` (and each table names its published source in
`data-source`), so a reader, an auditor or a test can check a figure against the table it
came from. Each cell is shown as its column's kind (`stls_warehouse.catalog`): money to the
nearest pound (half up), as in the Forum's briefings; a percentage with its sign; days,
scores and counts as themselves, never as money.

The PDF is WeasyPrint's rendering of the HTML as PDF/UA-1: tagged (headings, tables with
their header cells and figures with their alternative text in the structure tree), the
document language en-GB, every font embedded, each heading kept with what follows it by CSS.
Measured on the 2021-22 review (render only, this machine, shared): reportlab's platypus, used
before, wrote 16 pages in 1.9 s, untagged (pdfinfo: Tagged: no) with the base-14 Helvetica not
embedded; WeasyPrint writes 21 pages in 11 s, tagged, Liberation Sans embedded. Accessibility
decides: reportlab's open-source edition cannot tag a PDF.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from stls_warehouse.catalog import kind_for_unit


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    text: str
    note: bool = False
    lead: bool = False  # the headline: what matters, in plain English, before any table


@dataclass(frozen=True)
class Cell:
    value: Any
    kind: str = "text"  # a catalogue kind: text, money, percentage, count, days, score, ...

    @property
    def display(self) -> str:
        return display(self.value, self.kind)

    @property
    def exact(self) -> str:
        if self.value is None:
            return ""
        if isinstance(self.value, bool):
            return "true" if self.value else "false"
        code = getattr(self.value, "code", None)  # a code shown as words keeps the code as its value
        return str(code) if code is not None else str(self.value)

    @property
    def is_number(self) -> bool:
        return self.kind not in ("text", "flag", "date", "timestamp", "code")


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[Cell]]
    source: str  # the published table(s) the figures come from
    caption: str = ""
    total_rows: int = 0  # the last n rows are totals (shown bold)
    row_headers: bool = True  # the first cell of each row names it


@dataclass(frozen=True)
class Figure:
    png: bytes
    caption: str  # shown under the chart
    source: str
    alt: str = ""  # what the chart shows, for a reader who cannot see it (default: the caption)


Block = Heading | Paragraph | Table | Figure


@dataclass
class Document:
    title: str
    subtitle: str
    blocks: list[Block] = field(default_factory=list)
    footer: str = ""

    def add(self, *blocks: Block) -> None:
        self.blocks.extend(blocks)


def pounds(value: Decimal) -> Decimal:
    return value.quantize(Decimal(1), rounding=ROUND_HALF_UP)


def millions(value: Decimal | int) -> str:
    """£9.04m: a headline figure, to the nearest £10k."""
    amount = (Decimal(value) / Decimal(1_000_000)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"-£{-amount}m" if amount < 0 else f"£{amount}m"


def _plain(value: Decimal | int) -> str:
    """A number as written: 12 (not 12.00), 4.2, 1,234."""
    number = Decimal(value)
    if number == number.to_integral_value():
        return f"{int(number):,}"
    return f"{number.normalize():,f}"


def display(value: Any, kind: str = "text", unit: str | None = None) -> str:
    """A value as its kind is read: £1,235 / 5.9% / 10.0 days / 4.2 / 1,234 / 2021."""
    if kind == "by_unit":
        kind = kind_for_unit(unit)
    if value is None:
        return "\u2013"  # an en dash, as finance tables show nothing
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return f"{value.day} {value:%B %Y %H:%M} UTC"
    if isinstance(value, date):
        return f"{value.day} {value:%B %Y}"
    if not isinstance(value, (Decimal, int, float)):
        return str(value)
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if kind == "money":
        rounded = pounds(number)
        return f"-£{-rounded:,}" if rounded < 0 else f"£{rounded:,}"
    if kind == "percentage":
        return f"{number.quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"
    if kind == "days":
        return f"{number.quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)} days"
    if kind == "score":
        return f"{number.quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}"
    if kind == "fte":
        return f"{number.quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)} FTE"
    if kind == "code":
        return str(value)
    if kind in ("count", "number", "ratio", "index"):
        return _plain(number)
    return str(value)


def cells(values: list[Any], kinds: list[str]) -> list[Cell]:
    return [Cell(v, k) for v, k in zip(values, kinds, strict=True)]


# --- HTML ---------------------------------------------------------------------------------

_CSS = """
@page { size: A4 landscape; margin: 1.4cm 1.5cm 1.6cm;
  @bottom-left { content: FOOTER; font-family: "Liberation Sans", sans-serif; font-size: 7pt; color: #444; }
  @bottom-right { content: "Page " counter(page) " of " counter(pages); font-family: "Liberation Sans", sans-serif;
    font-size: 7pt; color: #444; } }
body { font-family: "Liberation Sans", "DejaVu Sans", Arial, sans-serif; margin: 2em auto; max-width: 1100px;
  color: #1b1b1b; line-height: 1.4; }
h1 { color: #00285f; margin-bottom: 0.1em; }
h2 { color: #00285f; border-bottom: 2px solid #00285f; break-after: avoid; margin-top: 1.4em; }
h3 { color: #00285f; break-after: avoid; }
.subtitle, .note, figcaption, footer { color: #444; }
.note { font-size: 0.9em; } .lead { font-size: 1.15em; border-left: 4px solid #00285f; padding-left: 0.6em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; width: auto; }
th, td { border: 1px solid #c8c8c8; padding: 3px 8px; vertical-align: top; }
thead th { background: #e8eef7; text-align: left; } tbody th { font-weight: normal; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.total th, tr.total td { font-weight: bold; background: #f3f3f3; } td.neg { color: #a00000; }
caption { text-align: left; font-weight: bold; padding: 4px 0; }
thead { display: table-header-group; } tr { break-inside: avoid; }
figure { margin: 0.5em 0 1.5em; break-inside: avoid; } figure img { max-width: 100%; }
figcaption { font-size: 0.9em; }
footer { margin-top: 3em; font-size: 0.85em; border-top: 1px solid #c8c8c8; }
@media print { body { margin: 0; max-width: none; font-size: 9pt; } .keep { break-inside: avoid; }
  figure img { max-width: 75%; max-height: 8.5cm; } }
"""


def render_html(doc: Document) -> str:
    e = html.escape
    footer_css = '"' + "".join(ch if ch.isalnum() or ch in " .,:-()" else " " for ch in doc.footer) + '"'
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en-GB"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(doc.title)}</title><style>{_CSS.replace('FOOTER', footer_css)}</style></head><body>",
        f'<header><h1>{e(doc.title)}</h1><p class="subtitle">{e(doc.subtitle)}</p></header><main>',
    ]
    blocks = doc.blocks
    index = 0
    while index < len(blocks):
        block = blocks[index]
        if isinstance(block, Heading):
            # a heading is kept with the paragraphs and the first table or figure after it
            group: list[Block] = [block]
            index += 1
            while index < len(blocks) and isinstance(blocks[index], Paragraph):
                group.append(blocks[index])
                index += 1
            if index < len(blocks) and isinstance(blocks[index], (Table, Figure)):
                follower = blocks[index]
                if not isinstance(follower, Table) or len(follower.rows) <= 15:
                    group.append(follower)
                    index += 1
            parts.append('<div class="keep">' + "".join(_html_block(b) for b in group) + "</div>")
            continue
        parts.append(_html_block(block))
        index += 1
    parts.append("</main>")
    if doc.footer:
        parts.append(f"<footer><p>{e(doc.footer)}</p></footer>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _html_block(block: Block) -> str:
    e = html.escape
    if isinstance(block, Heading):
        return f"<h{block.level}>{e(block.text)}</h{block.level}>"
    if isinstance(block, Paragraph):
        klass = ' class="lead"' if block.lead else ' class="note"' if block.note else ""
        return f"<p{klass}>{e(block.text)}</p>"
    if isinstance(block, Figure):
        data = base64.b64encode(block.png).decode("ascii")
        return (
            f'<figure data-source="{e(block.source)}"><img alt="{e(block.alt or block.caption)}" '
            f'src="data:image/png;base64,{data}"><figcaption>{e(block.caption)}</figcaption></figure>'
        )
    return _html_table(block)


def _html_table(table: Table) -> str:
    e = html.escape
    out = [f'<table data-source="{e(table.source)}">']
    if table.caption:
        out.append(f"<caption>{e(table.caption)}</caption>")
    out.append(
        "<thead><tr>"
        + "".join(f'<th scope="col">{e(c)}</th>' for c in table.columns)
        + "</tr></thead><tbody>"
    )
    first_total = len(table.rows) - table.total_rows
    for index, row in enumerate(table.rows):
        klass = ' class="total"' if index >= first_total else ""
        tds = []
        for position, cell in enumerate(row):
            classes = []
            if cell.is_number:
                classes.append("num")
            if isinstance(cell.value, (Decimal, int)) and not isinstance(cell.value, bool) and cell.value < 0:
                classes.append("neg")
            attr = f' class="{" ".join(classes)}"' if classes else ""
            if position == 0 and table.row_headers and not cell.is_number:
                tds.append(f'<th scope="row" data-value="{e(cell.exact)}">{e(cell.display)}</th>')
            else:
                tds.append(f'<td{attr} data-value="{e(cell.exact)}">{e(cell.display)}</td>')
        out.append(f"<tr{klass}>" + "".join(tds) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


# --- PDF ------------------------------------------------------------------------------------


def render_pdf(doc: Document, target: Path) -> None:
    """The HTML as a tagged PDF/UA-1 (WeasyPrint): structure tree, language, embedded fonts."""
    import logging

    from weasyprint import HTML

    logging.getLogger("weasyprint").setLevel(logging.ERROR)  # font subsetting chatter
    HTML(string=render_html(doc)).write_pdf(
        str(target),
        pdf_variant="pdf/ua-1",
        pdf_identifier=doc.title.encode("utf-8")[:32].ljust(32, b" "),
        uncompressed_pdf=False,
        custom_metadata=True,
    )
