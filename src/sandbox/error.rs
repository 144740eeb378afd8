//! Genesys-shaped errors (SPEC 8.2). Every error the sandbox sends, whatever produced it,
//! is rendered through [`ApiError::body`] so a client sees one error shape everywhere.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One entry of the error body's `details`: usually the offending request field.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ErrorDetail {
    pub error_code: String,
    pub field_name: Option<String>,
    pub entity_id: Option<String>,
    pub entity_name: Option<String>,
}

impl ErrorDetail {
    /// A problem with one request field.
    pub fn field(error_code: &str, field: impl Into<String>) -> ErrorDetail {
        ErrorDetail {
            error_code: error_code.to_string(),
            field_name: Some(field.into()),
            ..ErrorDetail::default()
        }
    }
}

/// An error response before the correlation id is known. Handlers return it; the
/// request gate renders it with the request's `contextId`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub details: Vec<ErrorDetail>,
    /// Seconds for a `Retry-After` header (429 and 503).
    pub retry_after: Option<u64>,
    /// Extra top-level fields, e.g. the OAuth `error` field on the token endpoint.
    pub extra: Vec<(String, Value)>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
            details: Vec::new(),
            retry_after: None,
            extra: Vec::new(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad.request", message)
    }

    /// A 400 about one named field (query parameter or body field).
    pub fn bad_field(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::bad_request(message).with_detail(ErrorDetail::field("invalid.value", field))
    }

    pub fn not_found(what: &str, id: &str) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::NOT_FOUND,
            "not.found",
            format!("{what} {id} was not found"),
        );
        e.details.push(ErrorDetail {
            error_code: "not.found".to_string(),
            entity_id: Some(id.to_string()),
            ..ErrorDetail::default()
        });
        e
    }

    /// A 409 naming the existing object that the request collides with.
    pub fn conflict(message: impl Into<String>, entity_id: &str, entity_name: &str) -> ApiError {
        let mut e = ApiError::new(StatusCode::CONFLICT, "conflict", message);
        e.details.push(ErrorDetail {
            error_code: "conflict".to_string(),
            field_name: Some("name".to_string()),
            entity_id: Some(entity_id.to_string()),
            entity_name: Some(entity_name.to_string()),
        });
        e
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal.server.error",
            message,
        )
    }

    pub fn unavailable() -> ApiError {
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service.unavailable",
            "The service is currently unavailable",
        );
        e.retry_after = Some(1);
        e
    }

    pub fn too_many_requests(retry_after: u64) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too.many.requests.retry.after",
            format!(
                "Rate limit exceeded the maximum. Retry the request in [{retry_after}] seconds"
            ),
        );
        e.retry_after = Some(retry_after);
        e
    }

    pub fn with_detail(mut self, detail: ErrorDetail) -> ApiError {
        self.details.push(detail);
        self
    }

    /// The Genesys error body; `contextId` is the request's correlation id, as on Genesys.
    pub fn body(&self, context_id: &str) -> Value {
        let details: Vec<Value> = self
            .details
            .iter()
            .map(|d| {
                let mut v = serde_json::Map::new();
                v.insert("errorCode".into(), json!(d.error_code));
                if let Some(f) = &d.field_name {
                    v.insert("fieldName".into(), json!(f));
                }
                if let Some(f) = &d.entity_id {
                    v.insert("entityId".into(), json!(f));
                }
                if let Some(f) = &d.entity_name {
                    v.insert("entityName".into(), json!(f));
                }
                Value::Object(v)
            })
            .collect();
        let mut body = json!({
            "message": self.message,
            "code": self.code,
            "status": self.status.as_u16(),
            "messageWithParams": self.message,
            "messageParams": {},
            "contextId": context_id,
            "details": details,
            "errors": [],
        });
        if let Value::Object(map) = &mut body {
            for (k, v) in &self.extra {
                map.insert(k.clone(), v.clone());
            }
        }
        body
    }
}

/// Handlers return `ApiError`; the response carries it as an extension and the gate
/// renders the body, because only the gate knows the correlation id.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = self.status.into_response();
        resp.extensions_mut().insert(self);
        resp
    }
}
