"""One module per command group (Typer docs style), assembled in nas_cli.main."""
