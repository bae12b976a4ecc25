"""Publication of audited marts for finance's BI tools."""
