"""HTTP controllers: they translate requests and responses, nothing more."""
