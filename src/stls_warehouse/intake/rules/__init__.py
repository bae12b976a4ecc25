"""The returns contract's rules, one module per part of a return."""
