//! The background publisher: every interval, the application's and the host's figures go to
//! CloudWatch in PutMetricData calls, per instance and aggregated per Auto Scaling group; the
//! last interval is published on shutdown.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_sdk_cloudwatch::Client;

use super::datum::{self, dims};
use super::host::{HostMetric, HostSampler};
use super::retry;
use crate::duties::{DutyState, Stop};
use crate::telemetry::log::Logger;
use crate::telemetry::metrics::{HistogramSnapshot, StatusClassCounts};

/// Attempts per call before an interval's figures are given up (the next interval follows).
const ATTEMPTS: u32 = 3;

/// Cumulative application figures, read from the process at each interval.
#[derive(Clone, Debug, Default)]
pub struct AppSnapshot {
    pub requests: StatusClassCounts,
    pub latency: HistogramSnapshot,
    pub pool_in_use: usize,
    pub pool_waiting: usize,
    pub probe_failures: u64,
    pub log_shipped: u64,
    pub log_dropped: u64,
}

pub type AppReader = Arc<dyn Fn() -> AppSnapshot + Send + Sync>;

/// The dimensions that say which instance a figure is about.
#[derive(Clone, Debug, Default)]
pub struct Who {
    pub instance_id: String,
    pub autoscaling_group: Option<String>,
    pub image_id: Option<String>,
    pub instance_type: Option<String>,
}

#[derive(Default)]
pub struct PublisherStats {
    pub published: AtomicU64,
    pub failed_calls: AtomicU64,
}

pub struct Publisher {
    pub client: Client,
    pub namespace: String,
    pub interval: Duration,
    pub who: Who,
    pub read_app: AppReader,
    pub logger: Logger,
    pub stats: Arc<PublisherStats>,
    /// Waits between the attempts of one interval's calls.
    pub backoff: retry::Backoff,
    /// Last success and last error, for `/metrics` and `itemsd status`.
    pub state: Arc<DutyState>,
}

impl Publisher {
    /// A duty that runs until `stop` says so, then publishes the last interval and returns.
    pub fn run(self, mut stop: Stop) -> impl std::future::Future<Output = ()> + Send + 'static {
        // The baseline is read now, not when the task first runs: requests served in between
        // would otherwise be in no interval.
        let mut previous = (self.read_app)();
        let mut host = HostSampler::default();
        host.sample(); // rates need a first reading
        async move {
            loop {
                let last = tokio::select! {
                    () = tokio::time::sleep(self.interval) => false,
                    () = stop.requested() => true,
                };
                let now = (self.read_app)();
                let data = self.build(&previous, &now, &host.sample());
                previous = now;
                self.publish(data).await;
                if last {
                    return;
                }
            }
        }
    }

    fn build(
        &self,
        before: &AppSnapshot,
        now: &AppSnapshot,
        host: &[HostMetric],
    ) -> Vec<MetricDatum> {
        let who = &self.who;
        let mut instance = vec![("InstanceId", who.instance_id.as_str())];
        if let Some(group) = &who.autoscaling_group {
            instance.push(("AutoScalingGroupName", group.as_str()));
        }
        let mut sets: Vec<Vec<Dimension>> = vec![dims(&instance)];
        if let Some(group) = &who.autoscaling_group {
            // Per-group aggregates, so alarms can watch the group whatever its instances.
            sets.push(dims(&[("AutoScalingGroupName", group.as_str())]));
        }
        let delta = |a: u64, b: u64| a.saturating_sub(b) as f64;
        let (r, p) = (&now.requests, &before.requests);
        let latency = now.latency.since(&before.latency);
        let mut data = Vec::new();
        for set in &sets {
            let count = |name, v| datum::value(name, v, StandardUnit::Count, set);
            data.push(count("RequestCount", delta(r.total, p.total)));
            data.push(count("Http2xxCount", delta(r.class_2xx, p.class_2xx)));
            data.push(count("Http4xxCount", delta(r.class_4xx, p.class_4xx)));
            data.push(count("Http5xxCount", delta(r.class_5xx, p.class_5xx)));
            data.push(count("DbPoolInUse", now.pool_in_use as f64));
            data.push(count("DbPoolWaiting", now.pool_waiting as f64));
            data.push(count(
                "DbProbeFailures",
                delta(now.probe_failures, before.probe_failures),
            ));
            data.push(count(
                "LogEventsShipped",
                delta(now.log_shipped, before.log_shipped),
            ));
            data.push(count(
                "LogEventsDropped",
                delta(now.log_dropped, before.log_dropped),
            ));
            data.extend(datum::latency("Latency", &latency, set));
        }
        let mut host_dims = instance.clone();
        if let Some(image) = &who.image_id {
            host_dims.push(("ImageId", image.as_str()));
        }
        if let Some(kind) = &who.instance_type {
            host_dims.push(("InstanceType", kind.as_str()));
        }
        for m in host {
            let unit = match (m.percent, m.name) {
                (true, _) => StandardUnit::Percent,
                (false, "diskio_io_time") => StandardUnit::Milliseconds,
                (false, _) => StandardUnit::Count,
            };
            let mut pairs = host_dims.clone();
            pairs.extend(m.dims.iter().map(|(k, v)| (*k, v.as_str())));
            data.push(datum::value(m.name, m.value, unit.clone(), &dims(&pairs)));
            if let Some(group) = &who.autoscaling_group {
                data.push(datum::value(
                    m.name,
                    m.value,
                    unit,
                    &dims(&[("AutoScalingGroupName", group.as_str())]),
                ));
            }
        }
        data
    }

    async fn publish(&self, data: Vec<MetricDatum>) {
        for call in datum::chunks(data) {
            let n = call.len() as u64;
            for attempt in 0..ATTEMPTS {
                let result = self
                    .client
                    .put_metric_data()
                    .namespace(&self.namespace)
                    .set_metric_data(Some(call.clone()))
                    .send()
                    .await;
                match result {
                    Ok(_) => {
                        self.stats.published.fetch_add(n, Ordering::Relaxed);
                        self.state.succeeded();
                        break;
                    }
                    Err(e) => {
                        self.stats.failed_calls.fetch_add(1, Ordering::Relaxed);
                        self.state.failed(format!(
                            "PutMetricData: {}",
                            aws_sdk_cloudwatch::error::DisplayErrorContext(&e)
                        ));
                        let permanent = retry::is_permanent(&e);
                        if permanent || attempt + 1 == ATTEMPTS {
                            self.logger
                                .warn("PutMetricData failed: this interval's figures are lost")
                                .field("data", n)
                                .error_chain(&e)
                                .emit();
                            break;
                        }
                        tokio::time::sleep(self.backoff.wait(attempt)).await;
                    }
                }
            }
        }
    }
}

/// One PutMetricData call, for `itemsd check`.
pub async fn test_call(client: &Client, namespace: &str, instance_id: &str) -> Result<(), String> {
    client
        .put_metric_data()
        .namespace(namespace)
        .metric_data(datum::value(
            "CheckRun",
            1.0,
            StandardUnit::Count,
            &dims(&[("InstanceId", instance_id)]),
        ))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| aws_sdk_cloudwatch::error::DisplayErrorContext(&e).to_string())
}
