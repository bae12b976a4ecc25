"""Quoting for the SQL the package writes itself (DuckDB and PostgreSQL agree on both forms).

Values go in as parameters wherever DuckDB accepts one; these are for the places it does
not (a file path in COPY or ATTACH, a setting, a table or column name).
"""

from __future__ import annotations


def quote_ident(name: str) -> str:
    """`name` as an identifier: in double quotes, a double quote doubled."""
    return '"' + name.replace('"', '""') + '"'


def sql_string(text: str) -> str:
    """`text` as a string literal: in single quotes, a single quote doubled."""
    return "'" + text.replace("'", "''") + "'"
