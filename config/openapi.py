"""drf-spectacular post-processing: every operation documents our JSON error responses."""

from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "string", "description": "Stable, machine-readable error code."},
        "message": {"type": "string", "description": "What went wrong, for people."},
        "errors": {"type": "object", "description": "Per-field detail of a validation error."},
    },
}
ERRORS = {
    "400": "Invalid input (bad JSON, broken gzip, failed validation).",
    "401": "Missing, wrong or revoked API key.",
    "403": "The API key lacks the scope this needs.",
    "404": "Not found.",
    "413": "Body too large.",
    "422": "Valid input the rules refuse (e.g. no such address).",
    "429": "Rate limit reached; see Retry-After.",
}


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    reference = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path in result.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            for status, description in ERRORS.items():
                responses.setdefault(status, {"description": description, "content": reference})
    return result
