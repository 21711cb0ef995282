"""docs/reference/api.md is what the app's OpenAPI document says, not a hand-kept copy."""

from __future__ import annotations

from collector.api.reference import REFERENCE_PATH, openapi_document, render


def test_the_committed_api_reference_matches_the_openapi_document() -> None:
    expected = render(openapi_document())
    committed = REFERENCE_PATH.read_text(encoding="utf-8") if REFERENCE_PATH.exists() else ""
    assert committed == expected, (
        f"{REFERENCE_PATH} is out of date with the API; regenerate it with "
        "`python -m collector.api.reference --write` and commit it"
    )


def test_every_operation_documents_its_errors_as_error_body() -> None:
    document = openapi_document()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for code, response in operation["responses"].items():
                if code.startswith(("4", "5")):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, code)
