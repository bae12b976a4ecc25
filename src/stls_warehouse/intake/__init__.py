"""Return intake: file routing, strict parsers, the submission ledger and quarantine."""
