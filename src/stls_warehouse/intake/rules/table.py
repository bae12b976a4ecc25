"""Finding the return's table (its sheet, its header) and the checks of the table as a
whole: the header's columns, error values and formulas, ragged rows, merged cells."""

from __future__ import annotations

from stls_warehouse.intake.contract import CONTRACTS, CONTROL_SHEET, KPI, LEDGER, ReturnContract
from stls_warehouse.intake.problems import Code, Problem
from stls_warehouse.intake.reader import TRIM, Grid, cell_reference, column_letter, open_xlsx, read_csv
from stls_warehouse.intake.result import ValidationResult
from stls_warehouse.intake.rules.base import FORMULA_KINDS, Collector, Table, report_formula_cell


def read_table(result: ValidationResult, extension: str, data: bytes) -> tuple[Grid | None, Grid | None]:
    if extension == ".csv":
        grid = read_csv(data)
        if result.return_type is None:
            result.return_type = _guess_type(grid)
        return grid, None
    wanted = {LEDGER.sheet.lower(), KPI.sheet.lower(), CONTROL_SHEET.lower()}
    book = open_xlsx(data, wanted)
    by_lower: dict[str, Grid] = {}
    for sheet_name, sheet_grid in book.sheets.items():
        by_lower.setdefault(sheet_name.strip(TRIM).lower(), sheet_grid)
    if result.return_type is None:
        found = [s for s in CONTRACTS.values() if s.sheet.lower() in by_lower]
        result.return_type = found[0].return_type if len(found) == 1 else None
        if len(found) > 1:
            result.errors.append(
                Problem(
                    Code.SHEET_MISSING,
                    "The workbook has both a 'Ledger' and a 'KPI' sheet and its name does not say "
                    "which return it is; name it like LEDGER_SWA_2021-22_P07.xlsx or KPI_THA_2022-10.xlsx.",
                )
            )
            return None, None
    if result.return_type is None:
        result.errors.append(
            Problem(
                Code.SHEET_MISSING,
                "The workbook has no 'Ledger' or 'KPI' sheet; put the return's table on a sheet of "
                "that name (the template has it).",
                expected="a sheet named Ledger or KPI",
            )
        )
        return None, None
    schema = CONTRACTS[result.return_type]
    table_grid = by_lower.get(schema.sheet.lower())
    if table_grid is None:
        found_names = ", ".join(f"'{n}'" for n in book.sheets) or "none"
        result.errors.append(
            Problem(
                Code.SHEET_MISSING,
                f"The workbook has no sheet named '{schema.sheet}'; put the table on a sheet of that "
                "name (the template has it).",
                sheet=schema.sheet,
                expected=f"a sheet named {schema.sheet} (sheets read: {found_names})",
            )
        )
        return None, None
    control = by_lower.get(CONTROL_SHEET.lower()) if schema is LEDGER else None
    return table_grid, control


def _guess_type(grid: Grid) -> str | None:
    first = min(grid.rows) if grid.rows else None
    names = {cell.text.lower() for cell in grid.rows[first].values()} if first else set()
    if "line_ref" in names:
        return "ledger"
    if "kpi_code" in names:
        return "kpi"
    return None


def check_header(problems: Collector, schema: ReturnContract, grid: Grid, header_row: int) -> dict[str, int]:
    cells = grid.rows[header_row]
    width = max(max(cells) + 1, grid.header_width or 0)
    columns: dict[str, int] = {}
    expected = ", ".join(schema.columns)
    for index in range(width):
        cell = cells.get(index)
        where = {"sheet": grid.sheet, "row": header_row, "cell": cell_reference(header_row, index)}
        letter = column_letter(index)
        if cell is None:
            problems.error(
                Code.HEADER_MISMATCH,
                f"Column {letter} has no name in the header; delete the column (or its stray "
                "values) or give it one of the return's column names.",
                column=letter,
                expected=expected,
                **where,
            )
            continue
        if cell.kind in ("error", "uncalculated"):
            continue  # reported by check_cells
        name = cell.text.lower()
        if name in columns:
            problems.error(
                Code.HEADER_MISMATCH,
                f"The column '{cell.text}' appears twice in the header; delete one of them.",
                column=cell.text,
                value=cell.text,
                expected="each column once",
                **where,
            )
        elif name not in schema.columns:
            problems.error(
                Code.HEADER_MISMATCH,
                f"'{cell.text}' is not a column of the {schema.return_type} return; delete the column "
                f"or rename it. The columns are: {expected}.",
                column=cell.text,
                value=cell.text,
                expected=expected,
                **where,
            )
        else:
            columns[name] = index
    for name in schema.columns:
        if name not in columns:
            problems.error(
                Code.HEADER_MISMATCH,
                f"The column '{name}' is missing from the header; add it (it may be left empty only "
                "where the contract says so).",
                sheet=grid.sheet,
                row=header_row,
                column=name,
                expected=expected,
            )
    grid.header_width = width
    return columns


def check_cells(problems: Collector, table: Table, grid: Grid, header_row: int) -> None:
    """Error values, uncalculated formulas, ragged rows and merged cells, anywhere in the table."""
    names = {index: name for name, index in table.columns.items()}
    width = grid.header_width or 0
    # A CSV holds text cells only, within the header's width (ragged rows are reported below).
    checked = [(header_row, grid.rows[header_row]), *table.rows] if grid.sheet is not None else []
    for row_number, cells in checked:
        outside = row_number != header_row and max(cells) >= width
        if not outside and all(cell.kind not in FORMULA_KINDS for cell in cells.values()):
            continue  # nearly every row: nothing in it to report
        for index, cell in cells.items():
            column = names[index] if index in names else column_letter(index)
            report_formula_cell(problems, cell, table.sheet, row_number, column, index)
            if grid.sheet is not None and index >= width and row_number != header_row:
                problems.error(
                    Code.HEADER_MISMATCH,
                    f"Cell {column_letter(index)}{row_number} holds '{cell.text}' in a column with no "
                    "header; delete it or move it into the table.",
                    sheet=table.sheet,
                    row=row_number,
                    column=column_letter(index),
                    cell=cell_reference(row_number, index),
                    value=cell.text,
                    expected="nothing outside the table's columns",
                )
    for row_number, count in grid.ragged_rows:
        problems.error(
            Code.HEADER_MISMATCH,
            f"Row {row_number} has {count} fields but the header has {grid.header_width}; check the "
            "row for a stray comma, or a value with a comma that needs double quotes around it.",
            row=row_number,
            value=f"{count} fields",
            expected=f"{grid.header_width} fields",
        )
    last_row = max(n for n, _ in table.rows)
    for r1, c1, r2, c2 in grid.merged:
        if r1 <= last_row and c1 < width and r2 >= header_row:
            problems.error(
                Code.MERGED_CELLS,
                f"Cells {column_letter(c1)}{r1}:{column_letter(c2)}{r2} are merged; unmerge them "
                "(Home > Merge & Center > Unmerge Cells) and put each value in its own cell.",
                sheet=table.sheet,
                row=r1,
                column=names.get(c1, column_letter(c1)),
                cell=f"{column_letter(c1)}{r1}:{column_letter(c2)}{r2}",
                expected="no merged cells in the table",
            )
