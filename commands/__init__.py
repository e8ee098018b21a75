"""The CLI's command groups; ``cli.py`` (the typer app, ``cli:main``) registers them."""
