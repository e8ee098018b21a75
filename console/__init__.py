"""The web console under /console: server-rendered pages for admins and managers (pt-BR)."""
