"""Reading a return's bytes into a table of cells, safely.

The file's type is decided from its bytes, never its name. Every cell is read as text or as
a typed XLSX cell and converted later by the project's own parsers: no NA guessing, no
dialect sniffing, no positional mapping.

XLSX is read straight from its XML parts, so error cells, formulas without cached values
and merged ranges are seen as what they are. The zip entries are inflated here, not by
`zipfile`, so that no declared size is trusted: every inflated byte is counted against the
contract's 200 MB, and a part that inflates past the size it declares is read on only to
count (nothing kept) until it ends or passes the limit. XML is parsed by defusedxml's
parser (DTD entities refused) feeding small streaming targets that keep only the cells, so
memory follows the table, not the XML. Sheets and shared strings laid out as Excel and the
common libraries write them (no DTD, UTF-8, plain cells) take a fast path instead: expat
checks them with no handlers, a regular expression cuts them into cells, and each cell goes
through the same conversion; anything else, or a part over 64 MB, is streamed as above.
"""
