"""One module per ``rrm`` subcommand (see rrm/cli.py for the contract)."""
