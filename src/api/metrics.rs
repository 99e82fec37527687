//! `GET /metrics`: what Prometheus scrapes, in the text format it asks for.

use hyper::header::{self, HeaderMap};
use hyper::{Response, StatusCode};

use super::call::Call;
use crate::error::Error;
use crate::http::{respond, Body};
use crate::metrics::{Format, OPENMETRICS, PROMETHEUS_TEXT};

/// The metrics in OpenMetrics text when the client asks for it (Prometheus
/// does), else in the Prometheus text format, which a browser shows as text.
pub async fn scrape(call: Call<'_>) -> Result<Response<Body>, Error> {
    let (app, headers) = (call.app, call.request.headers());
    let format = if asks_for_openmetrics(headers) {
        Format::OpenMetrics
    } else {
        Format::PrometheusText
    };
    let body = app.metrics.render(app.queue.gauges(), format);
    let content_type = match format {
        Format::OpenMetrics => OPENMETRICS,
        Format::PrometheusText => PROMETHEUS_TEXT,
    };
    let mut response = respond::whole(StatusCode::OK, content_type, body);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

/// Whether `Accept` names OpenMetrics text with a weight above zero.
fn asks_for_openmetrics(headers: &HeaderMap) -> bool {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    accept.split(',').any(|range| {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim();
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        media.eq_ignore_ascii_case("application/openmetrics-text") && q > 0.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    #[test]
    fn prometheus_gets_openmetrics_and_others_the_older_text() {
        let asks = |accept: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT, HeaderValue::from_str(accept).unwrap());
            asks_for_openmetrics(&headers)
        };
        // What Prometheus sends by default.
        assert!(asks(
            "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
        ));
        assert!(!asks("text/plain;version=0.0.4"));
        assert!(!asks("*/*"));
        assert!(!asks("application/openmetrics-text;q=0"));
        assert!(!asks_for_openmetrics(&HeaderMap::new()));
    }
}
