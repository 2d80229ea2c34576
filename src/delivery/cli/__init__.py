"""`promptpix`: the command line, one module per subcommand group."""
