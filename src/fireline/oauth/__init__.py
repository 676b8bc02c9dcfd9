"""The OAuth 2.0 authorization server for third-party apps: grants in server.py, apps and
tokens in service.py, the scope of every route in scopes.py."""
