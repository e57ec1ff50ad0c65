"""The fake storefront APIs, one module a job: one per platform (``shopify``, ``woocommerce``,
``bigcommerce``), the fault rules (``faults``), the HTTP server (``server``) and the stores'
credentials (``credentials``); ``common`` holds what the stores share. Import them through
``shipshape_local.fakestore``."""
