"""A report as a list of blocks, rendered to HTML and to PDF from the same content.

Tables keep the exact published value of every figure beside its display text: in HTML each
cell carries it in `data-value` (and each table names its published source in
`data-source`), so a reader, an auditor or a test can check a figure against the table it
came from. Money is shown to the nearest pound (half up), as in the Forum's briefings.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    text: str
    note: bool = False


@dataclass(frozen=True)
class Cell:
    value: Any
    kind: str = "text"  # text | money | number | percent | count

    @property
    def display(self) -> str:
        return display(self.value, self.kind)

    @property
    def exact(self) -> str:
        if self.value is None:
            return ""
        if isinstance(self.value, bool):
            return "true" if self.value else "false"
        return str(self.value)


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[Cell]]
    source: str  # the published table(s) the figures come from
    caption: str = ""
    total_rows: int = 0  # the last n rows are totals (shown bold)


@dataclass(frozen=True)
class Figure:
    png: bytes
    caption: str
    source: str


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


def display(value: Any, kind: str = "text") -> str:
    if value is None:
        return "\u2013"  # an en dash, as finance tables show nothing
    if kind == "money" and isinstance(value, (Decimal, int)):
        rounded = pounds(Decimal(value))
        return f"-£{-rounded:,}" if rounded < 0 else f"£{abs(rounded):,}"
    if kind == "percent" and isinstance(value, (Decimal, int, float)):
        return f"{value}%"
    if kind in ("count", "number") and isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def cells(values: list[Any], kinds: list[str]) -> list[Cell]:
    return [Cell(v, k) for v, k in zip(values, kinds, strict=True)]


# --- HTML ---------------------------------------------------------------------------------

_CSS = """
body { font-family: "Segoe UI", Arial, sans-serif; margin: 2em auto; max-width: 1100px; color: #1b1b1b; }
h1 { color: #00285f; margin-bottom: 0.1em; } h2 { color: #00285f; border-bottom: 2px solid #00285f; }
.subtitle { color: #555; margin-top: 0; } .note { color: #555; font-size: 0.9em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #c8c8c8; padding: 3px 8px; } th { background: #e8eef7; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; } tr.total td { font-weight: bold; }
td.neg { color: #a00000; } caption { text-align: left; font-weight: bold; padding: 4px 0; }
figure { margin: 0.5em 0 1.5em; } figure img { max-width: 100%; } figcaption { color: #555; font-size: 0.9em; }
footer { margin-top: 3em; color: #555; font-size: 0.85em; border-top: 1px solid #c8c8c8; }
"""


def render_html(doc: Document) -> str:
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en-GB"><head><meta charset="utf-8">',
        f"<title>{e(doc.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(doc.title)}</h1>",
        f'<p class="subtitle">{e(doc.subtitle)}</p>',
    ]
    for block in doc.blocks:
        if isinstance(block, Heading):
            parts.append(f"<h{block.level}>{e(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            parts.append(f"<p{' class=note' if block.note else ''}>{e(block.text)}</p>")
        elif isinstance(block, Figure):
            data = base64.b64encode(block.png).decode("ascii")
            parts.append(
                f'<figure data-source="{e(block.source)}"><img alt="{e(block.caption)}" '
                f'src="data:image/png;base64,{data}"><figcaption>{e(block.caption)}</figcaption></figure>'
            )
        else:
            parts.append(_html_table(block))
    if doc.footer:
        parts.append(f"<footer>{e(doc.footer)}</footer>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _html_table(table: Table) -> str:
    e = html.escape
    out = [f'<table data-source="{e(table.source)}">']
    if table.caption:
        out.append(f"<caption>{e(table.caption)}</caption>")
    out.append("<thead><tr>" + "".join(f"<th>{e(c)}</th>" for c in table.columns) + "</tr></thead><tbody>")
    first_total = len(table.rows) - table.total_rows
    for index, row in enumerate(table.rows):
        klass = ' class="total"' if index >= first_total else ""
        tds = []
        for cell in row:
            classes = []
            if cell.kind != "text":
                classes.append("num")
            if isinstance(cell.value, (Decimal, int)) and not isinstance(cell.value, bool) and cell.value < 0:
                classes.append("neg")
            attr = f' class="{" ".join(classes)}"' if classes else ""
            tds.append(f'<td{attr} data-value="{e(cell.exact)}">{e(cell.display)}</td>')
        out.append(f"<tr{klass}>" + "".join(tds) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


# --- PDF ------------------------------------------------------------------------------------


def render_pdf(doc: Document, target: Path) -> None:
    """A4 landscape PDF with reportlab (pure PyPI, no system libraries)."""
    import io

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import cm
    from reportlab.platypus import Image, KeepTogether, SimpleDocTemplate, Spacer, TableStyle
    from reportlab.platypus import Paragraph as PdfParagraph
    from reportlab.platypus import Table as PdfTable

    styles = getSampleStyleSheet()
    navy = colors.HexColor("#00285f")
    title = ParagraphStyle("t", parent=styles["Title"], textColor=navy, alignment=0)
    h2 = ParagraphStyle("h2", parent=styles["Heading2"], textColor=navy, keepWithNext=1)
    h3 = ParagraphStyle("h3", parent=styles["Heading3"], textColor=navy, keepWithNext=1)
    body = styles["BodyText"]
    note = ParagraphStyle("note", parent=body, textColor=colors.HexColor("#555555"), fontSize=8, leading=10)
    cell_style = ParagraphStyle("cell", parent=body, fontSize=7, leading=8.5)
    number_style = ParagraphStyle("number", parent=cell_style, alignment=2)
    head_style = ParagraphStyle("head", parent=cell_style, fontName="Helvetica-Bold")

    page = landscape(A4)
    width = page[0] - 3 * cm
    story: list[Any] = [
        PdfParagraph(html.escape(doc.title), title),
        PdfParagraph(html.escape(doc.subtitle), note),
    ]
    for block in doc.blocks:
        if isinstance(block, Heading):
            story.append(PdfParagraph(html.escape(block.text), h2 if block.level <= 2 else h3))
        elif isinstance(block, Paragraph):
            story.append(PdfParagraph(html.escape(block.text), note if block.note else body))
        elif isinstance(block, Figure):
            image = Image(io.BytesIO(block.png))
            scale = min(20 * cm / image.drawWidth, 9 * cm / image.drawHeight, 1.0)
            image.drawWidth, image.drawHeight = image.drawWidth * scale, image.drawHeight * scale
            story.append(KeepTogether([image, PdfParagraph(html.escape(block.caption), note)]))
        else:
            data = [[PdfParagraph(html.escape(c), head_style) for c in block.columns]]
            data += [
                [
                    PdfParagraph(html.escape(c.display), cell_style if c.kind == "text" else number_style)
                    for c in row
                ]
                for row in block.rows
            ]
            pdf_table = PdfTable(
                data, repeatRows=1, colWidths=[width / max(1, len(block.columns))] * len(block.columns)
            )
            commands: list[Any] = [
                ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#c8c8c8")),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef7")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
            if block.total_rows:
                commands.append(("BACKGROUND", (0, -block.total_rows), (-1, -1), colors.HexColor("#f3f3f3")))
            pdf_table.setStyle(TableStyle(commands))
            if block.caption:
                story.append(PdfParagraph(html.escape(block.caption), h3))
            story.append(pdf_table)
        story.append(Spacer(1, 0.3 * cm))

    def footer(canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.drawString(1.5 * cm, 0.8 * cm, f"{doc.footer}  -  page {document.page}")
        canvas.restoreState()

    pdf = SimpleDocTemplate(
        str(target),
        pagesize=page,
        leftMargin=1.5 * cm,
        rightMargin=1.5 * cm,
        topMargin=1.2 * cm,
        bottomMargin=1.4 * cm,
        title=doc.title,
        author="STLS finance warehouse",
        invariant=1,
    )
    pdf.build(story, onFirstPage=footer, onLaterPages=footer)
