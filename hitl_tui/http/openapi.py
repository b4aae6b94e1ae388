"""The OpenAPI 3.1 description of the HTTP API (GET /openapi.json), made from the endpoint table
(app.ENDPOINTS) and the pydantic models' own JSON schemas, so it lists exactly what is served."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from . import models

if TYPE_CHECKING:
    from .app import Endpoint, Query

_REF = "#/components/schemas/{model}"
_WHY = {401: "No bearer token, or one that is malformed, unknown or revoked.",
        403: "The engine refuses this account (outside what it may see, deactivated).",
        404: "No such request.", 409: "No longer possible: the request is already settled.",
        413: "The body is over the limit.", 422: "A body member or a parameter does not fit.",
        429: "Over the token's rate; Retry-After says when to try again.",
        503: "The database or the service cannot be reached now."}


def document(endpoints: "tuple[Endpoint, ...]") -> dict[str, Any]:
    from .. import __version__

    used: list[type[BaseModel]] = [models.Error]
    for e in endpoints:
        used += [e.answer, *([e.body] if e.body is not None else [])]
    unique = list(dict.fromkeys(used))
    refs, top = models_json_schema([(m, "validation" if _is_body(m, endpoints) else "serialization")
                                    for m in unique], ref_template=_REF)
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    paths: dict[str, dict[str, Any]] = {}
    for e in endpoints:
        paths.setdefault(e.path, {})[e.method.lower()] = _operation(e, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": "hitl-tui HTTP API", "version": str(__version__),
                 "description": "Ask a human before a risky action: file a request bound to the exact action, "
                                "wait, and act only on outcome `approved`, with exactly the payload approved. No "
                                "endpoint decides: a person does, at the desk. Errors are one line: "
                                '{"error": "..."}.'},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "components": {"schemas": schemas, "securitySchemes": {"bearer": {
            "type": "http", "scheme": "bearer", "bearerFormat": "hitl_ and 43 base64url characters",
            "description": "A token from `hitl-tui token create ACCOUNT` (an administrator's); the calls act as "
                           "that account."}}},
        "paths": paths,
    }


def _is_body(model: type[BaseModel], endpoints: "tuple[Endpoint, ...]") -> bool:
    return any(e.body is model for e in endpoints)


def _operation(e: "Endpoint", refs: dict[Any, Any]) -> dict[str, Any]:
    def ref(model: type[BaseModel]) -> dict[str, Any]:
        mode = "validation" if model is e.body else "serialization"
        return dict(refs[(model, mode)])

    op: dict[str, Any] = {"operationId": e.operation, "summary": e.summary, "responses": {
        str(e.status): {"description": "OK" if e.status == 200 else "Created",
                        "content": {"application/json": {"schema": ref(e.answer)}}},
        **{str(code): {"description": _WHY[code], "content": {"application/json": {"schema": ref(models.Error)}}}
           for code in e.errors}}}
    params = [_path_param()] if "{request_id}" in e.path else []
    params += [_query(q) for q in e.query]
    if params:
        op["parameters"] = params
    if e.body is not None:
        op["requestBody"] = {"required": e.body_required,
                             "content": {"application/json": {"schema": ref(e.body)}}}
    return op


def _path_param() -> dict[str, Any]:
    return {"name": "request_id", "in": "path", "required": True, "schema": {"type": "string"},
            "description": "The request's id, as POST /v1/requests answered it (WF-...)."}


def _query(q: "Query") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": q.kind}
    if q.default is not None:
        schema["default"] = q.default
    if q.minimum is not None:
        schema["minimum"] = q.minimum
    if q.maximum is not None:
        schema["maximum"] = q.maximum
    if q.choices:
        schema["enum"] = list(q.choices)
    return {"name": q.name, "in": "query", "required": False, "schema": schema, "description": q.description}
