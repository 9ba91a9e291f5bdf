"""The od subcommands, one module each."""
