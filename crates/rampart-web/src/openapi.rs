//! `GET /api/v1/openapi.json`: the API described for scripts and generated clients (OpenAPI
//! 3.1). One table, [`OPERATIONS`], lists every route the router serves; a test reads the router's
//! source and fails when a route is missing here, so the document cannot drift from the code.

use serde_json::{json, Map, Value};

/// Who may call an operation.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    /// No session (login, health, this document).
    Public,
    /// Any signed-in account (`Authorization: Bearer rps_...`), acting on its own data.
    User,
    /// Accounts with the `auditor` role only.
    Auditor,
    /// Accounts with the `admin` role only.
    Admin,
}

struct Operation {
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    access: Access,
    /// JSON request body properties: (name, type, required).
    body: &'static [(&'static str, &'static str, bool)],
    /// Query parameters: (name, type).
    query: &'static [(&'static str, &'static str)],
}

const fn op(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    access: Access,
) -> Operation {
    Operation {
        method,
        path,
        summary,
        access,
        body: &[],
        query: &[],
    }
}

use Access::*;

const OPERATIONS: &[Operation] = &[
    op("get", "/healthz", "Liveness: `ok` while the server runs.", Public),
    op("get", "/api/v1/openapi.json", "This document.", Public),
    Operation {
        body: &[
            ("address", "string", true),
            ("password", "string", true),
            ("device_id", "string", false),
        ],
        ..op(
            "post",
            "/api/v1/auth/login",
            "Sign in: 200 with a session, 202 with a challenge (totp or approval), 401/403/429 with code and message.",
            Public,
        )
    },
    op("post", "/api/v1/auth/logout", "End this session.", User),
    op("get", "/api/v1/auth/session", "Who this session belongs to.", User),
    op(
        "get",
        "/api/v1/auth/challenges",
        "Sign-ins waiting for this user's approval (SMTP and IMAP ones too).",
        User,
    ),
    op(
        "get",
        "/api/v1/auth/challenges/{id}",
        "Poll a challenge; the session arrives here once it is approved.",
        Public,
    ),
    Operation {
        body: &[("code", "string", true)],
        ..op(
            "post",
            "/api/v1/auth/challenges/{id}/totp",
            "Finish a TOTP challenge with a code.",
            Public,
        )
    },
    op(
        "post",
        "/api/v1/auth/challenges/{id}/approve",
        "Approve a sign-in from a trusted session.",
        User,
    ),
    op(
        "post",
        "/api/v1/auth/challenges/{id}/deny",
        "Refuse a sign-in from a trusted session.",
        User,
    ),
    op(
        "post",
        "/api/v1/auth/totp/enroll",
        "Start enrolling an authenticator: an otpauth:// URI for the QR code.",
        User,
    ),
    Operation {
        body: &[("code", "string", true)],
        ..op(
            "post",
            "/api/v1/auth/totp/confirm",
            "Confirm the authenticator with a first code.",
            User,
        )
    },
    op("get", "/api/v1/auth/app-passwords", "This user's app passwords.", User),
    Operation {
        body: &[("name", "string", true), ("protocols", "array", false)],
        ..op(
            "post",
            "/api/v1/auth/app-passwords",
            "Create an app password (shown once), scoped to protocols.",
            User,
        )
    },
    op(
        "delete",
        "/api/v1/auth/app-passwords/{id}",
        "Revoke an app password.",
        User,
    ),
    op(
        "get",
        "/api/v1/holds",
        "My messages held by DLP or for unusual sending.",
        User,
    ),
    op("get", "/api/v1/holds/{id}", "One held message.", User),
    Operation {
        body: &[("code", "string", false), ("challenge", "string", false)],
        ..op(
            "post",
            "/api/v1/holds/{id}/release",
            "Send it after step-up: a TOTP code, a second-factor session, or (202) an approval challenge.",
            User,
        )
    },
    op("post", "/api/v1/holds/{id}/cancel", "Do not send it.", User),
    op(
        "post",
        "/api/v1/holds/{id}/report",
        "\"This was not me\": contains the account and alerts administrators.",
        User,
    ),
    Operation {
        query: &[("since", "integer"), ("until", "integer"), ("bucket", "integer")],
        ..op(
            "get",
            "/api/v1/admin/dashboard",
            "Mail flow per bucket, detections, login decisions, riskiest accounts and sources (administrators).",
            Admin,
        )
    },
    op(
        "get",
        "/api/v1/mail/deleted",
        "My recently deleted messages, recoverable until `recoverable_until`.",
        User,
    ),
    op(
        "post",
        "/api/v1/mail/deleted/{id}/restore",
        "Put one of my deleted messages back into its folder.",
        User,
    ),
    Operation {
        query: &[
            ("since", "integer"),
            ("until", "integer"),
            ("actor", "string"),
            ("kind", "string"),
            ("subject", "string"),
            ("before", "integer"),
            ("limit", "integer"),
        ],
        ..op(
            "get",
            "/api/v1/audit/events",
            "The audit trail, newest first (auditor only).",
            Auditor,
        )
    },
    Operation {
        query: &[("q", "string"), ("limit", "integer"), ("offset", "integer")],
        ..op(
            "get",
            "/api/v1/archive/search",
            "Search the archive: words, \"phrases\", from: to: subject: attachment: after: before: (auditor only; audited).",
            Auditor,
        )
    },
    Operation {
        query: &[("format", "string")],
        ..op(
            "get",
            "/api/v1/archive/messages/{id}",
            "An archived message's envelope, or with format=raw the message itself (auditor only; audited).",
            Auditor,
        )
    },
];

/// The OpenAPI 3.1 document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for o in OPERATIONS {
        let mut operation = json!({
            "summary": o.summary,
            "responses": {
                "200": {"description": "Done; JSON with `status: ok` (the health check answers text)."},
                "400": {"description": "Bad request; JSON with `code` and `message`."},
                "401": {"description": "No or expired session."},
                "403": {"description": "Refused by policy or role; `code` says which."},
                "404": {"description": "Not found, or not yours."},
                "429": {"description": "Too many attempts; `Retry-After`."},
                "503": {"description": "Temporary failure; try again."}
            }
        });
        let mut parameters: Vec<Value> = Vec::new();
        if o.path.contains("{id}") {
            parameters.push(
                json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}),
            );
        }
        for (name, ty) in o.query {
            parameters.push(
                json!({"name": name, "in": "query", "required": false, "schema": {"type": ty}}),
            );
        }
        if !parameters.is_empty() {
            operation["parameters"] = Value::Array(parameters);
        }
        if !o.body.is_empty() {
            let properties: Map<String, Value> = o
                .body
                .iter()
                .map(|(name, ty, _)| (name.to_string(), json!({"type": ty})))
                .collect();
            let required: Vec<&str> = o
                .body
                .iter()
                .filter(|(_, _, r)| *r)
                .map(|(n, _, _)| *n)
                .collect();
            operation["requestBody"] = json!({
                "required": true,
                "content": {"application/json": {"schema": {
                    "type": "object", "properties": properties, "required": required,
                    "additionalProperties": false
                }}}
            });
        }
        match o.access {
            Access::Public => operation["security"] = json!([]),
            Access::User => {}
            Access::Auditor => {
                operation["x-rampart-role"] = json!("auditor");
            }
            Access::Admin => {
                operation["x-rampart-role"] = json!("admin");
            }
        }
        paths
            .entry(o.path.to_string())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .map(|p| p.insert(o.method.to_string(), operation));
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Rampart API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Sessions come from POST /api/v1/auth/login and go in `Authorization: Bearer rps_...`. Every answer is JSON with `status`; errors carry a stable `code` and a `message` for people."
        },
        "components": {"securitySchemes": {"session": {"type": "http", "scheme": "bearer"}}},
        "security": [{"session": []}],
        "paths": paths
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// (method, path) of every `.route(...)` in the router's source files.
    fn routes_in(source: &str) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        let mut rest = source;
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + ".route(".len()..];
            let Some(q1) = rest.find('"') else { break };
            let Some(q2) = rest[q1 + 1..].find('"') else {
                break;
            };
            let path = &rest[q1 + 1..q1 + 1 + q2];
            // The handlers run to the closing parenthesis of `.route(`.
            let mut depth = 1;
            let mut end = 0;
            for (i, c) in rest.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            end = i;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let handlers = &rest[q1 + q2 + 2..end];
            for method in ["get", "post", "put", "patch", "delete"] {
                let needle = format!("{method}(");
                if handlers.match_indices(&needle).any(|(i, _)| {
                    i == 0 || !handlers[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_')
                }) {
                    out.insert((method.to_string(), path.to_string()));
                }
            }
        }
        out
    }

    #[test]
    fn every_route_the_router_serves_is_documented_and_nothing_else() {
        let served: BTreeSet<(String, String)> =
            [include_str!("api.rs"), include_str!("compliance.rs")]
                .iter()
                .flat_map(|s| routes_in(s))
                .collect();
        assert!(served.len() > 20, "the source scan found {served:?}");
        let documented: BTreeSet<(String, String)> = OPERATIONS
            .iter()
            .map(|o| (o.method.to_string(), o.path.to_string()))
            .collect();
        let missing: Vec<_> = served.difference(&documented).collect();
        let stale: Vec<_> = documented.difference(&served).collect();
        assert!(
            missing.is_empty(),
            "routes without documentation: {missing:?}"
        );
        assert!(
            stale.is_empty(),
            "documented routes the router does not serve: {stale:?}"
        );
    }

    #[test]
    fn the_document_is_openapi_3_1_with_the_session_scheme() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(
            doc["paths"]["/api/v1/auth/login"]["post"]["security"],
            json!([])
        );
        assert_eq!(
            doc["paths"]["/api/v1/archive/search"]["get"]["x-rampart-role"],
            "auditor"
        );
        let login = &doc["paths"]["/api/v1/auth/login"]["post"]["requestBody"]["content"]
            ["application/json"]["schema"];
        assert_eq!(login["required"], json!(["address", "password"]));
    }
}
