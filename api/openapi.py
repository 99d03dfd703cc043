"""The OpenAPI document says exactly what the server does.

FastAPI's generated document is close, but not exact, for three things this app does on
purpose; `contract` rewrites them after generation (once, then cached by FastAPI):

- Validation errors are ``application/problem+json`` (`api.problems`), not FastAPI's
  ``application/json`` ``HTTPValidationError``: every 422 response is documented as the
  problem schema and the unused ``HTTPValidationError``/``ValidationError`` schemas go.
- A JSON body that is not valid JSON is a 400 problem: every operation with a JSON request
  body documents 400.
- The ``Idempotency-Key`` header of money-moving POSTs is read as optional by FastAPI
  (so that a missing one is our 400, not a generic 422), but the server requires it:
  it is documented as required, 1–255 characters.

The schemathesis gate in ``make test`` (tests/api/test_fuzz.py) holds the server to this
document.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.problems import problem_responses
from market.idempotency import MAX_KEY_LENGTH

_METHODS = ("get", "put", "post", "delete", "patch")


def contract(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document, rewritten as the module docstring says."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    for path_item in document.get("paths", {}).values():
        for method in _METHODS:
            operation = path_item.get(method)
            if operation is not None:
                _rewrite(operation)
    schemas = document.get("components", {}).get("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    app.openapi_schema = document
    return document


def _rewrite(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    problem = problem_responses(400, 422)
    if "422" in responses:
        responses["422"] = problem[422]
    body = operation.get("requestBody", {}).get("content", {})
    if "application/json" in body and "400" not in responses:
        responses["400"] = problem[400]
    for parameter in operation.get("parameters", ()):
        if parameter.get("in") == "header" and parameter.get("name") == "Idempotency-Key":
            parameter["required"] = True
            parameter["schema"] = {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_KEY_LENGTH,
                "pattern": r"\S",  # not only blanks
            }
    operation["responses"] = dict(sorted(responses.items()))
