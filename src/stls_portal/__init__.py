"""The STLS returns service: schools upload a return in a browser, see the verdict at once,
answer queries and sign off.

A Django project beside `stls_warehouse`. It calls the warehouse's own functions (validate,
template, what changed, the rejection report, landing delivery, decisions) and reads only the
published release; it never opens the working warehouse. See README "The returns service".
"""
