"""Quality gates: Great Expectations suites on incoming returns and on the warehouse."""
