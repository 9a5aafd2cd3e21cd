//! Turning readings into MetricDatum values, and calls into chunks within PutMetricData's
//! limits. Latency goes as `Values`/`Counts` so CloudWatch can compute percentiles (a
//! statistic set would lose them).

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};

use crate::telemetry::metrics::{HistogramSnapshot, LATENCY_BUCKETS};

/// Most metric data in one PutMetricData call.
pub const MAX_DATA_PER_CALL: usize = 1000;
/// Most bytes in one call's payload.
pub const MAX_CALL_BYTES: usize = 1_000_000;
/// Most distinct values in one datum's `Values`.
pub const MAX_VALUES_PER_DATUM: usize = 150;
/// Most dimensions on one metric.
pub const MAX_DIMENSIONS: usize = 30;

/// Latency recorded beyond the last bucket is published at this many times its bound.
const OVERFLOW_FACTOR: f64 = 2.0;

pub fn dims(pairs: &[(&str, &str)]) -> Vec<Dimension> {
    pairs
        .iter()
        .take(MAX_DIMENSIONS)
        .map(|(k, v)| Dimension::builder().name(*k).value(*v).build())
        .collect()
}

pub fn value(name: &str, value: f64, unit: StandardUnit, dimensions: &[Dimension]) -> MetricDatum {
    MetricDatum::builder()
        .metric_name(name)
        .value(value)
        .unit(unit)
        .set_dimensions(Some(dimensions.to_vec()))
        .build()
}

/// The latency distribution of an interval (bucket counts), in milliseconds: each bucket is
/// published at its upper bound. `None` when nothing was recorded.
pub fn latency(
    name: &str,
    delta: &HistogramSnapshot,
    dimensions: &[Dimension],
) -> Option<MetricDatum> {
    let mut values = Vec::new();
    let mut counts = Vec::new();
    for (i, n) in delta.buckets.iter().enumerate() {
        if *n == 0 {
            continue;
        }
        let bound = LATENCY_BUCKETS
            .get(i)
            .copied()
            .unwrap_or(LATENCY_BUCKETS[LATENCY_BUCKETS.len() - 1] * OVERFLOW_FACTOR);
        values.push(bound * 1000.0);
        counts.push(*n as f64);
    }
    if values.is_empty() {
        return None;
    }
    values.truncate(MAX_VALUES_PER_DATUM);
    counts.truncate(MAX_VALUES_PER_DATUM);
    Some(
        MetricDatum::builder()
            .metric_name(name)
            .set_values(Some(values))
            .set_counts(Some(counts))
            .unit(StandardUnit::Milliseconds)
            .set_dimensions(Some(dimensions.to_vec()))
            .build(),
    )
}

/// A generous estimate of a datum's size in the query-encoded request.
fn size(d: &MetricDatum) -> usize {
    let dims: usize = d
        .dimensions()
        .iter()
        .map(|x| 80 + x.name().map_or(0, str::len) + x.value().map_or(0, str::len))
        .sum();
    200 + d.metric_name().map_or(0, str::len) + dims + 40 * (d.values().len() + d.counts().len())
}

/// Splits data into calls within the count and size limits.
pub fn chunks(data: Vec<MetricDatum>) -> Vec<Vec<MetricDatum>> {
    let mut calls = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0;
    for d in data {
        let s = size(&d);
        if !current.is_empty() && (current.len() == MAX_DATA_PER_CALL || bytes + s > MAX_CALL_BYTES)
        {
            calls.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += s;
        current.push(d);
    }
    if !current.is_empty() {
        calls.push(current);
    }
    calls
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_stay_within_the_count_limit() {
        let d = dims(&[("InstanceId", "i-1")]);
        let data: Vec<MetricDatum> = (0..2500)
            .map(|i| value(&format!("m{i}"), 1.0, StandardUnit::Count, &d))
            .collect();
        let calls = chunks(data);
        assert_eq!(
            calls.iter().map(Vec::len).collect::<Vec<_>>(),
            [1000, 1000, 500]
        );
    }

    #[test]
    fn latency_keeps_the_distribution() {
        let mut delta = HistogramSnapshot {
            buckets: vec![0; LATENCY_BUCKETS.len() + 1],
            count: 6,
            sum_seconds: 0.0,
        };
        delta.buckets[1] = 5; // <= 1 ms
        delta.buckets[LATENCY_BUCKETS.len()] = 1; // beyond 10 s
        let datum = latency("Latency", &delta, &[]).expect("datum");
        assert_eq!(datum.values(), [1.0, 20_000.0]);
        assert_eq!(datum.counts(), [5.0, 1.0]);
        let empty = HistogramSnapshot {
            buckets: vec![0; LATENCY_BUCKETS.len() + 1],
            ..HistogramSnapshot::default()
        };
        assert!(latency("Latency", &empty, &[]).is_none());
    }
}
