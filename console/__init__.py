"""The web console: server-rendered pages under ``/console`` for admins (configure) and viewers (look)."""
