"""pytest plugin entry point (hooks only; the work lives in qaaudit.collect and qaaudit.session)."""
