//! The metric registry: lock-free counters and histograms that the request path updates, and
//! their Prometheus text exposition.
//!
//! Label sets are fixed at compile time (route templates, methods, a list of status codes), so
//! a recording is a few atomic adds with no allocation and no lock, and a client cannot create
//! series by sending odd paths.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Request latency buckets in seconds, the Prometheus client defaults reaching down to 1 ms
/// because most requests here take a few milliseconds.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

pub const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "OTHER",
];

/// Status codes itemsd answers with; anything else is counted under "other".
pub const STATUS_CODES: [u16; 17] = [
    200, 201, 204, 400, 404, 405, 408, 409, 413, 414, 415, 422, 431, 500, 501, 503, 504,
];
const STATUS_SLOTS: usize = STATUS_CODES.len() + 1;

pub fn method_index(method: &http::Method) -> usize {
    match *method {
        http::Method::GET => 0,
        http::Method::HEAD => 1,
        http::Method::POST => 2,
        http::Method::PUT => 3,
        http::Method::DELETE => 4,
        http::Method::PATCH => 5,
        http::Method::OPTIONS => 6,
        _ => 7,
    }
}

fn status_slot(status: u16) -> usize {
    STATUS_CODES
        .iter()
        .position(|&s| s == status)
        .unwrap_or(STATUS_CODES.len())
}

/// A histogram with fixed buckets; `sum` kept in microseconds so it fits an atomic integer.
pub struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }
}

/// A point-in-time copy of a histogram (non-cumulative bucket counts, last slot is +Inf).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HistogramSnapshot {
    pub buckets: Vec<u64>,
    pub count: u64,
    pub sum_seconds: f64,
}

impl HistogramSnapshot {
    /// What was recorded between `earlier` and this snapshot.
    pub fn since(&self, earlier: &HistogramSnapshot) -> HistogramSnapshot {
        HistogramSnapshot {
            buckets: self
                .buckets
                .iter()
                .enumerate()
                .map(|(i, n)| n.saturating_sub(earlier.buckets.get(i).copied().unwrap_or(0)))
                .collect(),
            count: self.count.saturating_sub(earlier.count),
            sum_seconds: (self.sum_seconds - earlier.sum_seconds).max(0.0),
        }
    }
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = LATENCY_BUCKETS.iter().position(|&b| secs <= b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(
            d.as_micros().min(u64::MAX as u128) as u64,
            Ordering::Relaxed,
        );
    }

    pub fn snapshot(&self) -> HistogramSnapshot {
        let count = self.count.load(Ordering::Relaxed);
        let mut buckets: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let finite: u64 = buckets.iter().sum();
        buckets.push(count.saturating_sub(finite));
        HistogramSnapshot {
            buckets,
            count,
            sum_seconds: self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let snap = self.snapshot();
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (bound, n) in LATENCY_BUCKETS.iter().zip(&snap.buckets) {
            cumulative += n;
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            snap.count
        );
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", snap.sum_seconds);
        let _ = writeln!(out, "{name}_count{braces} {}", snap.count);
    }
}

/// HTTP request metrics keyed by route template, method and status.
pub struct HttpMetrics {
    routes: &'static [&'static str],
    /// `[route][method][status slot]`, flattened.
    requests: Vec<AtomicU64>,
    /// Latency per route.
    latency: Vec<Histogram>,
    /// Requests turned away with 503 because `HTTP_MAX_CONCURRENT_REQUESTS` were in flight.
    pub rejected_overload: AtomicU64,
    /// Requests being handled right now.
    pub in_flight: AtomicU64,
}

/// Counts of answered requests by status class, for the CloudWatch publisher and `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatusClassCounts {
    pub total: u64,
    pub class_2xx: u64,
    pub class_3xx: u64,
    pub class_4xx: u64,
    pub class_5xx: u64,
}

impl HttpMetrics {
    pub fn new(routes: &'static [&'static str]) -> Self {
        let cells = routes.len() * METHODS.len() * STATUS_SLOTS;
        Self {
            routes,
            requests: (0..cells).map(|_| AtomicU64::new(0)).collect(),
            latency: (0..routes.len()).map(|_| Histogram::default()).collect(),
            rejected_overload: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
        }
    }

    fn cell(&self, route: usize, method: usize, status: u16) -> usize {
        (route * METHODS.len() + method) * STATUS_SLOTS + status_slot(status)
    }

    pub fn record(&self, route: usize, method: usize, status: u16, elapsed: Duration) {
        let route = route.min(self.routes.len() - 1);
        self.requests[self.cell(route, method, status)].fetch_add(1, Ordering::Relaxed);
        self.latency[route].observe(elapsed);
    }

    /// Every request counted so far, by status class.
    pub fn status_classes(&self) -> StatusClassCounts {
        let mut counts = StatusClassCounts::default();
        for (i, cell) in self.requests.iter().enumerate() {
            let n = cell.load(Ordering::Relaxed);
            if n == 0 {
                continue;
            }
            counts.total += n;
            let slot = i % STATUS_SLOTS;
            // Codes outside the list have no known class: counted in the total only.
            match STATUS_CODES.get(slot).copied().unwrap_or(0) {
                200..=299 => counts.class_2xx += n,
                300..=399 => counts.class_3xx += n,
                400..=499 => counts.class_4xx += n,
                500..=599 => counts.class_5xx += n,
                _ => {}
            }
        }
        counts
    }

    /// Latency of all routes merged.
    pub fn latency_all(&self) -> HistogramSnapshot {
        let mut merged = HistogramSnapshot {
            buckets: vec![0; LATENCY_BUCKETS.len() + 1],
            ..HistogramSnapshot::default()
        };
        for h in &self.latency {
            let s = h.snapshot();
            for (m, b) in merged.buckets.iter_mut().zip(&s.buckets) {
                *m += b;
            }
            merged.count += s.count;
            merged.sum_seconds += s.sum_seconds;
        }
        merged
    }

    /// Appends the HTTP metrics in Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let classes = self.status_classes();
        out.push_str("# HELP http_requests_total Total HTTP requests answered, by method, route template and status.\n");
        out.push_str("# TYPE http_requests_total counter\n");
        for (r, route) in self.routes.iter().enumerate() {
            for (m, method) in METHODS.iter().enumerate() {
                for slot in 0..STATUS_SLOTS {
                    let n = self.requests[(r * METHODS.len() + m) * STATUS_SLOTS + slot]
                        .load(Ordering::Relaxed);
                    if n == 0 {
                        continue;
                    }
                    let status = STATUS_CODES
                        .get(slot)
                        .map_or_else(|| "other".to_owned(), u16::to_string);
                    let _ = writeln!(
                        out,
                        "http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
                    );
                }
            }
        }
        out.push_str("# HELP http_errors_total Total HTTP requests answered with an error status, by class.\n");
        out.push_str("# TYPE http_errors_total counter\n");
        let _ = writeln!(
            out,
            "http_errors_total{{class=\"4xx\"}} {}",
            classes.class_4xx
        );
        let _ = writeln!(
            out,
            "http_errors_total{{class=\"5xx\"}} {}",
            classes.class_5xx
        );
        out.push_str("# HELP http_request_duration_seconds Time from request head to response head, by route template.\n");
        out.push_str("# TYPE http_request_duration_seconds histogram\n");
        for (r, route) in self.routes.iter().enumerate() {
            self.latency[r].render(
                out,
                "http_request_duration_seconds",
                &format!("route=\"{route}\""),
            );
        }
        gauge(
            out,
            "http_requests_in_flight",
            "Requests being handled now.",
            self.in_flight.load(Ordering::Relaxed) as f64,
        );
        counter(
            out,
            "http_requests_rejected_total",
            "Requests answered 503 because the concurrency limit was reached.",
            self.rejected_overload.load(Ordering::Relaxed),
        );
    }
}

/// Appends one unlabelled gauge with its HELP and TYPE lines.
pub fn gauge(out: &mut String, name: &str, help: &str, value: f64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
    );
}

/// Appends one unlabelled counter with its HELP and TYPE lines.
pub fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
    );
}

/// Escapes a Prometheus label value.
pub fn label_value(raw: &str) -> String {
    raw.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTES: &[&str] = &["/a", "/b", "unmatched"];

    #[test]
    fn counts_by_route_method_and_status() {
        let m = HttpMetrics::new(ROUTES);
        m.record(0, 0, 200, Duration::from_millis(3));
        m.record(0, 0, 200, Duration::from_millis(30));
        m.record(1, 2, 503, Duration::from_secs(20));
        m.record(2, 7, 299, Duration::from_micros(10));
        let mut out = String::new();
        m.render(&mut out);
        assert!(out.contains("http_requests_total{method=\"GET\",route=\"/a\",status=\"200\"} 2"));
        assert!(out.contains("http_requests_total{method=\"POST\",route=\"/b\",status=\"503\"} 1"));
        assert!(out.contains(
            "http_requests_total{method=\"OTHER\",route=\"unmatched\",status=\"other\"} 1"
        ));
        assert!(out.contains("http_errors_total{class=\"5xx\"} 1"));
        assert!(out.contains("http_request_duration_seconds_bucket{route=\"/a\",le=\"0.005\"} 1"));
        assert!(out.contains("http_request_duration_seconds_bucket{route=\"/b\",le=\"+Inf\"} 1"));
        assert!(out.contains("http_request_duration_seconds_bucket{route=\"/b\",le=\"10\"} 0"));
        let classes = m.status_classes();
        assert_eq!(classes.total, 4);
        assert_eq!(classes.class_2xx, 2, "the unlisted 299 has no class");
        assert_eq!(classes.class_5xx, 1);
        let all = m.latency_all();
        assert_eq!(all.count, 4);
        assert_eq!(all.buckets.iter().sum::<u64>(), 4);
    }
}
