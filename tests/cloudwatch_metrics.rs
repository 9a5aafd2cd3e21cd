//! Metrics published to CloudWatch (moto's server), read back with the AWS CLI: the
//! application's with the request count it served, latency as Values/Counts, the host's under
//! the CloudWatch agent's names and dimensions, and per-group aggregates.

mod common;

use std::time::{Duration, Instant};

use common::cbor_shim::CborShim;
use common::client::Client;
use common::eventually_ok;
use common::moto::Moto;
use common::pg;
use common::process::{db_env, itemsd, Process};

const NAMESPACE: &str = "Itemsd/Test";
const INSTANCE: &str = "i-metrics";
const GROUP: &str = "itemsd-test-asg";

/// itemsd's environment: the database, moto for AWS, and the shim in front of it for CloudWatch
/// (the SDK speaks CBOR to CloudWatch, moto only the query protocol).
async fn env(moto: &Moto, shim: &CborShim, interval_s: u32) -> Vec<(&'static str, String)> {
    let cluster = pg::shared();
    let db = cluster.fresh_database().await;
    let mut env = db_env(cluster, &db);
    env.extend(moto.env());
    env.extend([
        ("AWS_ENDPOINT_URL_CLOUDWATCH", shim.endpoint()),
        ("INSTANCE_ID", INSTANCE.to_owned()),
        ("AUTOSCALING_GROUP_NAME", GROUP.to_owned()),
        ("CLOUDWATCH_NAMESPACE", NAMESPACE.to_owned()),
        (
            "CLOUDWATCH_METRICS_INTERVAL_SECONDS",
            interval_s.to_string(),
        ),
    ]);
    env
}

/// `Sum` (or another statistic) of a metric over the last hour, with exactly these dimensions.
fn statistic(moto: &Moto, name: &str, dims: &[(&str, &str)], stat: &str) -> Option<f64> {
    let dims: Vec<serde_json::Value> = dims
        .iter()
        .map(|(k, v)| serde_json::json!({"Name": k, "Value": v}))
        .collect();
    let v = moto.boto3_cloudwatch(&format!(
        "import datetime\nnow = datetime.datetime.now(datetime.timezone.utc)\n\
         r = cw.get_metric_statistics(Namespace='{NAMESPACE}', MetricName='{name}', \
         Dimensions=json.loads('{}'), StartTime=now - datetime.timedelta(hours=1), \
         EndTime=now + datetime.timedelta(minutes=5), Period=3600, Statistics=['{stat}'])\n\
         print(json.dumps([p['{stat}'] for p in r['Datapoints']]))",
        serde_json::Value::Array(dims)
    ));
    let points = v.as_array()?;
    (!points.is_empty()).then(|| points.iter().filter_map(serde_json::Value::as_f64).sum())
}

/// Names and dimension sets of every metric in the namespace.
fn listed(moto: &Moto) -> Vec<(String, Vec<String>)> {
    let v = moto.boto3_cloudwatch(&format!(
        "ms = []\nfor page in cw.get_paginator('list_metrics').paginate(Namespace='{NAMESPACE}'):\n    \
         ms += [[m['MetricName'], sorted(d['Name'] for d in m['Dimensions'])] for m in page['Metrics']]\n\
         print(json.dumps(ms))"
    ));
    v.as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            let dims = m[1]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d.as_str().map(str::to_owned))
                .collect();
            (m[0].as_str().unwrap_or_default().to_owned(), dims)
        })
        .collect()
}

// Multi-threaded: the test blocks on the child process while its own tasks keep running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn application_and_host_metrics_arrive_with_their_dimensions() {
    let moto = Moto::start().await;
    let shim = CborShim::start(moto.addr).await;
    let mut proc = Process::spawn(itemsd(&env(&moto, &shim, 1).await));
    let client = Client::new(proc.addr().await);
    for _ in 0..7 {
        assert_eq!(client.get("/api/items").await.status, 200);
    }
    let instance = [("InstanceId", INSTANCE), ("AutoScalingGroupName", GROUP)];
    // Published by the interval, while itemsd runs.
    eventually_ok("7 requests published", Duration::from_secs(15), || async {
        match statistic(&moto, "RequestCount", &instance, "Sum") {
            Some(7.0) => Ok(()),
            other => Err(format!("RequestCount sum {other:?}")),
        }
    })
    .await;
    proc.signal(libc::SIGTERM);
    assert_eq!(proc.wait_exit(Duration::from_secs(20)).await, 0);
    assert!(
        !proc.output().contains("PutMetricData failed"),
        "{}",
        proc.output()
    );

    assert_eq!(
        statistic(&moto, "RequestCount", &instance, "Sum"),
        Some(7.0),
        "request count equals the requests made"
    );
    assert_eq!(
        statistic(&moto, "Http2xxCount", &instance, "Sum"),
        Some(7.0)
    );
    assert_eq!(
        statistic(&moto, "Latency", &instance, "SampleCount"),
        Some(7.0),
        "latency as Values/Counts: one sample per request"
    );

    let metrics = listed(&moto);
    let has = |name: &str, dims: &[&str]| {
        let mut want: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
        want.sort();
        metrics.iter().any(|(n, d)| n == name && *d == want)
    };
    for name in [
        "mem_used_percent",
        "swap_used_percent",
        "cpu_usage_idle",
        "cpu_usage_user",
        "netstat_tcp_established",
        "netstat_tcp_time_wait",
    ] {
        assert!(
            has(name, &["InstanceId", "AutoScalingGroupName"]),
            "{name}: {metrics:?}"
        );
        assert!(has(name, &["AutoScalingGroupName"]), "{name} per group");
    }
    assert!(
        has(
            "disk_used_percent",
            &[
                "InstanceId",
                "AutoScalingGroupName",
                "path",
                "device",
                "fstype"
            ]
        ),
        "{metrics:?}"
    );
    for name in [
        "RequestCount",
        "Http5xxCount",
        "Latency",
        "DbPoolInUse",
        "DbPoolWaiting",
        "DbProbeFailures",
        "LogEventsDropped",
    ] {
        assert!(
            has(name, &["InstanceId", "AutoScalingGroupName"]),
            "{name}: {metrics:?}"
        );
        // The group aggregate: the same metric with the group as its only dimension. (moto
        // sums every metric whose dimensions include the ones asked for, so only the listing
        // tells the two sets apart.)
        assert!(
            has(name, &["AutoScalingGroupName"]),
            "{name} per group: {metrics:?}"
        );
    }
    let mem = statistic(&moto, "mem_used_percent", &instance, "Average").expect("memory");
    assert!((0.0..=100.0).contains(&mem), "{mem}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_that_logs_and_metrics_accept_a_test_call() {
    let moto = Moto::start().await;
    let shim = CborShim::start(moto.addr).await;
    let mut env = env(&moto, &shim, 60).await;
    env.push(("CLOUDWATCH_LOG_GROUP", "/itemsd/check".to_owned()));
    let migrated = itemsd(&env).arg("migrate").output().expect("runs");
    assert!(migrated.status.success());
    let started = Instant::now();
    let out = itemsd(&env).arg("check").output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("ok    logs"), "{text}");
    assert!(text.contains("ok    metrics"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(
        moto.log_messages("/itemsd/check", INSTANCE)
            .iter()
            .any(|m| m.contains("itemsd check")),
        "the test event is in the stream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_publishes_the_last_interval() {
    let moto = Moto::start().await;
    let shim = CborShim::start(moto.addr).await;
    // An interval longer than the test: only the publish that stopping makes can carry these.
    let mut proc = Process::spawn(itemsd(&env(&moto, &shim, 600).await));
    let client = Client::new(proc.addr().await);
    for _ in 0..5 {
        assert_eq!(client.get("/health").await.status, 200);
    }
    proc.signal(libc::SIGTERM);
    assert_eq!(proc.wait_exit(Duration::from_secs(20)).await, 0);
    let instance = [("InstanceId", INSTANCE), ("AutoScalingGroupName", GROUP)];
    assert_eq!(
        statistic(&moto, "RequestCount", &instance, "Sum"),
        Some(5.0)
    );
}
