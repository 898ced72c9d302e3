"""One module per ``rrm`` subcommand (see scripts/cli.py for the contract)."""
