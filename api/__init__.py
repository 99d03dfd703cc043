"""The HTTP face (FastAPI) and the `futarchy` command line."""
