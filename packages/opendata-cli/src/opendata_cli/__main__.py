"""``python -m opendata_cli`` runs ``od``."""

from opendata_cli.main import main

main()
