"""CLI subcommands, one module each; `delivery.cli` registers them."""
