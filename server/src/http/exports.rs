//! `GET /exports/{id}?expires=…&signature=…`: an exported dashboard's file,
//! for whoever holds the link `exportDashboard` answered with (a browser
//! opening it has no bearer token to send). The signature decides: a link
//! not signed by this server (or altered) is 403, one past its time 410,
//! one whose export is gone 404. Served as an attachment that is never
//! cached or sniffed as anything else.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use uuid::Uuid;

use alatar_agents::dashboards::download::LinkError;
use alatar_agents::dashboards::export::ExportFormat;
use alatar_schema::service::dashboards::exports::for_download;

use super::HttpState;

/// The link's query.
#[derive(Deserialize)]
pub struct Link {
    expires: i64,
    signature: String,
}

fn refuse(status: StatusCode, message: &'static str) -> Response {
    (status, [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))], message).into_response()
}

pub async fn download(
    State(state): State<HttpState>,
    Path(id): Path<String>,
    link: Result<Query<Link>, QueryRejection>,
) -> Response {
    let Ok(id) = Uuid::parse_str(&id) else { return refuse(StatusCode::NOT_FOUND, "no such export") };
    let Ok(Query(link)) = link else { return refuse(StatusCode::FORBIDDEN, "the link is not signed") };
    match state.downloads.check_now(id, link.expires, &link.signature) {
        Ok(()) => {}
        Err(LinkError::BadSignature) => return refuse(StatusCode::FORBIDDEN, "the link's signature does not match"),
        Err(LinkError::Expired) => return refuse(StatusCode::GONE, "the link has expired: export the dashboard again"),
    }
    let export = match for_download(&state.db, id).await {
        Ok(Some(export)) => export,
        Ok(None) => return refuse(StatusCode::NOT_FOUND, "the export is gone"),
        Err(e) => {
            tracing::error!(error = %e, export_id = %id, "could not look an export up");
            return refuse(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
        }
    };
    let bytes = match tokio::fs::read(&export.path).await {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return refuse(StatusCode::NOT_FOUND, "the export is gone");
        }
        Err(e) => {
            tracing::error!(error = %e, export_id = %id, "could not read an exported file");
            return refuse(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
        }
    };
    let format = if export.format == ExportFormat::Pdf.as_str() { ExportFormat::Pdf } else { ExportFormat::Png };
    let disposition = format!("attachment; filename=\"dashboard-{id}.{}\"", format.extension());
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(format.content_type())),
            (header::CACHE_CONTROL, HeaderValue::from_static("private, no-store")),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition).unwrap_or(HeaderValue::from_static("attachment")),
            ),
        ],
        bytes,
    )
        .into_response()
}
