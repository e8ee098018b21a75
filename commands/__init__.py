"""The CLI's command groups; ``cli.py`` (the typer app, ``cli:main``) registers them.

``common`` holds what every command shares (consoles, exit codes, ``fail``, the settings, the
database session and its error reporting); ``output`` how results print. Every command imports
the engine, the store and the servers' libraries inside its function, so ``despacho --help`` and
``despacho validate`` never load FastAPI, SQLAlchemy, Dramatiq or Twilio
(``tests/cli/test_startup.py`` checks it; ``bench/bench_cli.py`` measures it).
"""
