//! `GET /metrics`: Prometheus text exposition format 0.0.4.

use std::fmt::Write as _;

use http::{HeaderValue, StatusCode};

use super::response::{self, Resp};
use super::State;
use crate::health::DbState;
use crate::telemetry::metrics::{counter, gauge, label_value};
use crate::telemetry::process;

const CONTENT_TYPE: HeaderValue =
    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");

pub fn render(state: &State) -> String {
    let app = &state.app;
    let mut out = String::with_capacity(8 * 1024);
    out.push_str(
        "# HELP application_info Application information.\n# TYPE application_info gauge\n",
    );
    let _ = writeln!(
        out,
        "application_info{{version=\"{}\",environment=\"{}\",instance=\"{}\"}} 1",
        label_value(&app.version),
        label_value(&app.environment),
        label_value(&app.instance_id)
    );
    gauge(&mut out, "application_up", "Application is running.", 1.0);
    state.metrics.render(&mut out);

    let pool = state.connections.pool().status();
    gauge(
        &mut out,
        "db_pool_size",
        "Open database connections in the pool.",
        pool.size as f64,
    );
    gauge(
        &mut out,
        "db_pool_max_size",
        "Configured maximum of pooled connections.",
        pool.max_size as f64,
    );
    gauge(
        &mut out,
        "db_pool_idle",
        "Pooled connections not in use.",
        pool.available as f64,
    );
    gauge(
        &mut out,
        "db_pool_in_use",
        "Pooled connections serving requests.",
        pool.size.saturating_sub(pool.available) as f64,
    );
    gauge(
        &mut out,
        "db_pool_waiting",
        "Requests waiting for a pooled connection.",
        pool.waiting as f64,
    );
    let health = &state.health;
    gauge(
        &mut out,
        "db_up",
        "1 when the last database probe succeeded.",
        f64::from(u8::from(health.db_state() == DbState::Up)),
    );
    gauge(
        &mut out,
        "db_probe_duration_seconds",
        "Duration of the last database probe.",
        health.probe_latency().as_secs_f64(),
    );
    counter(
        &mut out,
        "db_probe_failures_total",
        "Database probes that failed.",
        health
            .probe_failures
            .load(std::sync::atomic::Ordering::Relaxed),
    );
    counter(
        &mut out,
        "db_probe_timeouts_total",
        "Database probes that passed their deadline (a silent database, not a refusing one).",
        health
            .probe_timeouts
            .load(std::sync::atomic::Ordering::Relaxed),
    );
    let calls = &state.connections.stats;
    counter(
        &mut out,
        "db_deadlines_exceeded_total",
        "Database calls (requests and probes) that passed their deadline.",
        calls
            .deadlines_exceeded
            .load(std::sync::atomic::Ordering::Relaxed),
    );
    counter(
        &mut out,
        "db_connections_discarded_total",
        "Connections cut off after a deadline or a lost socket, so no call uses them again.",
        calls
            .connections_discarded
            .load(std::sync::atomic::Ordering::Relaxed),
    );
    gauge(
        &mut out,
        "db_schema_version",
        "Applied schema migration version.",
        f64::from(health.schema_version()),
    );

    if let Some(stats) = &state.log_shipping {
        let c = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        counter(
            &mut out,
            "cloudwatch_logs_events_shipped_total",
            "Log events accepted by CloudWatch Logs.",
            c(&stats.shipped),
        );
        counter(
            &mut out,
            "cloudwatch_logs_events_dropped_total",
            "Log events dropped because the buffer was full (oldest first).",
            c(&stats.dropped),
        );
        counter(
            &mut out,
            "cloudwatch_logs_events_rejected_total",
            "Log events CloudWatch Logs would not take (too old, too new, refused batch).",
            c(&stats.rejected),
        );
        counter(
            &mut out,
            "cloudwatch_logs_events_truncated_total",
            "Log events truncated to the 256 KiB event limit.",
            c(&stats.truncated),
        );
        counter(
            &mut out,
            "cloudwatch_logs_retries_total",
            "PutLogEvents calls retried.",
            c(&stats.retries),
        );
        counter(
            &mut out,
            "cloudwatch_logs_destination_failures_total",
            "Attempts to make the log stream (or a missing group) ready that failed.",
            c(&stats.destination_failures),
        );
        counter(
            &mut out,
            "cloudwatch_logs_batches_total",
            "PutLogEvents calls accepted.",
            c(&stats.batches),
        );
        gauge(
            &mut out,
            "cloudwatch_logs_buffered_bytes",
            "Log bytes waiting to be shipped.",
            c(&stats.buffered_bytes) as f64,
        );
        if let Some(age) = stats.last_error_age() {
            gauge(
                &mut out,
                "cloudwatch_logs_last_error_age_seconds",
                "Seconds since the last failed PutLogEvents call.",
                age,
            );
        }
    }

    if let Some(stats) = &state.metric_publishing {
        let c = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        counter(
            &mut out,
            "cloudwatch_metrics_published_total",
            "Metric data accepted by CloudWatch.",
            c(&stats.published),
        );
        counter(
            &mut out,
            "cloudwatch_metrics_failed_calls_total",
            "PutMetricData calls that failed.",
            c(&stats.failed_calls),
        );
    }

    duties(&mut out, state);

    let p = process::read();
    gauge(
        &mut out,
        "process_resident_memory_bytes",
        "Resident memory size in bytes.",
        p.resident_bytes as f64,
    );
    out.push_str("# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n# TYPE process_cpu_seconds_total counter\n");
    let _ = writeln!(out, "process_cpu_seconds_total {}", p.cpu_seconds);
    gauge(
        &mut out,
        "process_open_fds",
        "Number of open file descriptors.",
        p.open_fds as f64,
    );
    gauge(
        &mut out,
        "process_max_fds",
        "Maximum number of open file descriptors.",
        p.max_fds as f64,
    );
    gauge(
        &mut out,
        "process_threads",
        "Number of OS threads.",
        p.threads as f64,
    );
    gauge(
        &mut out,
        "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds.",
        p.start_time_seconds,
    );
    out
}

/// Each background duty's errors and last success, labelled by duty.
fn duties(out: &mut String, state: &State) {
    if state.duties.is_empty() {
        return;
    }
    let snapshots: Vec<_> = state
        .duties
        .iter()
        .map(|(name, s)| (*name, s.snapshot()))
        .collect();
    out.push_str(
        "# HELP itemsd_duty_errors_total Failures of each background duty (probe, secret refresh, metric publisher, log shipper).\n\
         # TYPE itemsd_duty_errors_total counter\n",
    );
    for (name, snap) in &snapshots {
        let _ = writeln!(
            out,
            "itemsd_duty_errors_total{{duty=\"{name}\"}} {}",
            snap.errors
        );
    }
    out.push_str(
        "# HELP itemsd_duty_last_success_timestamp_seconds When each background duty last succeeded (absent before its first success).\n\
         # TYPE itemsd_duty_last_success_timestamp_seconds gauge\n",
    );
    for (name, snap) in &snapshots {
        if let Some(ms) = snap.last_success_ms {
            let _ = writeln!(
                out,
                "itemsd_duty_last_success_timestamp_seconds{{duty=\"{name}\"}} {}",
                ms as f64 / 1000.0
            );
        }
    }
}

pub fn metrics(state: &State) -> Resp {
    response::with_body(StatusCode::OK, CONTENT_TYPE, render(state).into_bytes())
}
