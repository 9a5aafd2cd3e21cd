//! Log shipping to CloudWatch Logs, through a proxy that enforces the real PutLogEvents limits
//! in front of moto's server; what arrived is read back with the AWS CLI.

mod common;

use std::time::Duration;

use common::client::Client;
use common::eventually_ok;
use common::moto::Moto;
use common::pg;
use common::process::{db_env, itemsd, Process};
use common::strict_logs::StrictLogs;

const GROUP: &str = "/itemsd/test";
const STREAM: &str = "i-logs";

struct Setup {
    moto: Moto,
    proxy: StrictLogs,
    proc: Process,
    client: Client,
}

async fn start(extra: &[(&'static str, &str)]) -> Setup {
    let cluster = pg::shared();
    let db = cluster.fresh_database().await;
    let moto = Moto::start().await;
    let proxy = StrictLogs::start(moto.addr).await;
    let mut env = db_env(cluster, &db);
    env.extend(moto.env());
    env.extend([
        ("AWS_ENDPOINT_URL", proxy.endpoint()),
        ("INSTANCE_ID", STREAM.to_owned()),
        ("CLOUDWATCH_LOG_GROUP", GROUP.to_owned()),
        ("CLOUDWATCH_LOG_FLUSH_MS", "200".to_owned()),
        // Outages here last seconds, not production's minutes: retries come within a second.
        ("CLOUDWATCH_RETRY_BACKOFF_CAP_MS", "1000".to_owned()),
        ("AWS_ATTEMPT_TIMEOUT_MS", "2000".to_owned()),
    ]);
    for (k, v) in extra {
        env.retain(|(name, _)| name != k);
        env.push((k, (*v).to_owned()));
    }
    let mut proc = Process::spawn(itemsd(&env));
    let client = Client::new(proc.addr().await);
    Setup {
        moto,
        proxy,
        proc,
        client,
    }
}

/// The request ids of shipped access-log lines, in the order CloudWatch holds them.
fn shipped_ids(moto: &Moto, prefix: &str) -> Vec<String> {
    moto.shipped_request_ids(GROUP, STREAM, prefix)
}

async fn wait_for_ids(moto: &Moto, prefix: &str, n: usize, within: Duration) -> Vec<String> {
    let what = format!("{n} events with {prefix} arrived");
    eventually_ok(&what, within, || async move {
        let ids = shipped_ids(moto, prefix);
        if ids.len() >= n {
            Ok(ids)
        } else {
            Err(format!("{} arrived", ids.len()))
        }
    })
    .await
}

async fn requests(client: &Client, prefix: &str, n: usize, path_len: usize) {
    let path = format!("/{}", "p".repeat(path_len));
    for i in 0..n {
        let id = format!("{prefix}{i:05}");
        client
            .send("GET", &path, &[("x-request-id", &id)], b"")
            .await;
    }
}

// Multi-threaded, like every test here: the proxy runs on the test's runtime and must keep
// serving while the test blocks on the child process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_is_shipped_in_order_in_valid_batches() {
    let s = start(&[]).await;
    // 400 lines of about 3.3 KB: more than one call's 1 MiB, so the shipper must split.
    requests(&s.client, "burst-", 400, 3000).await;
    let ids = wait_for_ids(&s.moto, "burst-", 400, Duration::from_secs(30)).await;
    let expected: Vec<String> = (0..400).map(|i| format!("burst-{i:05}")).collect();
    assert_eq!(ids, expected, "all of them, once each, in order");
    let record = s.proxy.record.lock().expect("record");
    assert!(record.violations.is_empty(), "{:?}", record.violations);
    // More than one call's worth was sent, and every call stayed within the limits above.
    let total: usize = record.batches.iter().map(|(_, bytes)| bytes).sum();
    assert!(total > 1_048_576, "{total} bytes in {:?}", record.batches);
}

// The event's timestamp is the time the line itself carries, to the millisecond: what a reader
// sees in the console's time column and in the line's `timestamp` agree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_event_has_its_lines_own_timestamp() {
    let s = start(&[]).await;
    requests(&s.client, "time-", 200, 10).await;
    wait_for_ids(&s.moto, "time-", 200, Duration::from_secs(30)).await;
    let lines = s.moto.shipped_access_lines(GROUP, STREAM, "time-");
    assert_eq!(lines.len(), 200);
    for (event_ms, line) in &lines {
        let text = line["timestamp"].as_str().expect("the line's timestamp");
        let line_ms = chrono::DateTime::parse_from_rfc3339(text)
            .expect("an RFC 3339 timestamp")
            .timestamp_millis();
        assert_eq!(*event_ms, line_ms, "event of {line}");
    }
}

// Each call costs a SigV4 signature over its whole body and a round trip, whatever it carries:
// under steady load a call goes out once a flush interval, or once half a batch is waiting, not
// after every round trip with the few lines that came in meanwhile.
// Multi-threaded, like every test here: the proxy runs on the test's runtime and must keep
// serving while the test blocks on the child process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steady_load_is_shipped_in_few_calls() {
    const FLUSH: Duration = Duration::from_secs(1);
    const LOAD: Duration = Duration::from_secs(3);
    let s = start(&[("CLOUDWATCH_LOG_FLUSH_MS", "1000")]).await;
    requests(&s.client, "warm-", 1, 10).await;
    wait_for_ids(&s.moto, "warm-", 1, Duration::from_secs(20)).await;
    let calls_before = s.proxy.record.lock().expect("record").batches.len();
    let started = std::time::Instant::now();
    let mut sent = 0;
    while started.elapsed() < LOAD {
        requests(&s.client, &format!("steady-{sent:05}-"), 1, 10).await;
        sent += 1;
    }
    wait_for_ids(&s.moto, "steady-", sent, Duration::from_secs(20)).await;
    let elapsed = started.elapsed();
    let record = s.proxy.record.lock().expect("record");
    let calls = &record.batches[calls_before..];
    let bytes: usize = calls.iter().map(|(_, bytes)| bytes).sum();
    // One call a flush interval, one for each half batch (512 KiB), and one for the lines of
    // the last interval.
    let allowed = (elapsed.as_secs_f64() / FLUSH.as_secs_f64()).ceil() as usize
        + bytes.div_ceil(512 * 1024)
        + 1;
    assert!(
        calls.len() <= allowed,
        "{sent} requests in {elapsed:?} were shipped in {} calls, more than {allowed}: {calls:?}",
        calls.len()
    );
}

// Multi-threaded, like every test here: the proxy runs on the test's runtime and must keep
// serving while the test blocks on the child process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_loses_nothing_that_fits_the_buffer() {
    let s = start(&[]).await;
    requests(&s.client, "before-", 5, 10).await;
    wait_for_ids(&s.moto, "before-", 5, Duration::from_secs(20)).await;
    s.proxy.set_down(true);
    // Requests are served meanwhile: the request path never waits on shipping (were it to,
    // these would wait for the outage to end, which comes only after them).
    tokio::time::timeout(
        Duration::from_secs(30),
        requests(&s.client, "during-", 50, 10),
    )
    .await
    .expect("requests served during the outage");
    // The outage lasts until the shipper has backed off and retried through several failures.
    eventually_ok("several retries", Duration::from_secs(30), || async {
        match counter(
            &s.client.get("/metrics").await.text(),
            "cloudwatch_logs_retries_total",
        ) {
            n if n >= 4.0 => Ok(()),
            n => Err(format!("{n} retries")),
        }
    })
    .await;
    s.proxy.set_down(false);
    let ids = wait_for_ids(&s.moto, "during-", 50, Duration::from_secs(30)).await;
    assert_eq!(ids.len(), 50, "each once");
}

/// A counter's value in the `/metrics` text.
fn counter(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

// Multi-threaded, like every test here: the proxy runs on the test's runtime and must keep
// serving while the test blocks on the child process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_buffer_drops_the_oldest_and_reports_the_exact_count() {
    let mut s = start(&[("CLOUDWATCH_LOG_BUFFER_BYTES", "8192")]).await;
    requests(&s.client, "warm-", 1, 10).await;
    wait_for_ids(&s.moto, "warm-", 1, Duration::from_secs(20)).await;
    s.proxy.set_down(true);
    // Wait until a batch is stuck retrying: it is held outside the buffer and will be shipped,
    // so the flood that follows meets a buffer with nothing of its own in flight.
    requests(&s.client, "marker-", 1, 10).await;
    s.proc
        .wait_for_log("PutLogEvents failed", Duration::from_secs(20))
        .await;
    requests(&s.client, "flood-", 200, 10).await;
    s.proxy.set_down(false);
    let report = s
        .proc
        .wait_for_log(
            "log events dropped: the CloudWatch Logs buffer was full",
            Duration::from_secs(40),
        )
        .await;
    let dropped_total = report["dropped_total"].as_u64().expect("dropped_total");
    assert!(dropped_total > 0);
    // The newest survive: the last flood request arrives, the first does not.
    let ids = wait_for_ids(&s.moto, "flood-00199", 1, Duration::from_secs(30)).await;
    assert_eq!(ids, ["flood-00199"]);
    assert!(
        shipped_ids(&s.moto, "flood-00000").is_empty(),
        "the oldest went first"
    );
    // Every line written before the report was either shipped or counted as dropped.
    let messages = s.moto.log_messages(GROUP, STREAM);
    let report_ts = report["timestamp"].as_str().expect("timestamp").to_owned();
    let reported_at = messages
        .iter()
        .position(|m| m.contains("log events dropped"))
        .expect("the drop report itself was shipped");
    // Lines from the first one the sink saw (start-up lines before it are stdout only).
    let stdout = s.proc.output();
    let first_shipped = stdout
        .lines()
        .position(|l| l.contains("shipping logs to CloudWatch Logs"))
        .expect("the first shipped line");
    let written_before = stdout
        .lines()
        .position(|l| l.contains("log events dropped"))
        .expect("report on stdout")
        - first_shipped;
    let shipped_before = reported_at;
    assert_eq!(
        written_before as u64,
        shipped_before as u64 + dropped_total,
        "lines before the report ({written_before}) = shipped ({shipped_before}) + dropped ({dropped_total}); report at {report_ts}"
    );
}

// Multi-threaded, like every test here: the proxy runs on the test's runtime and must keep
// serving while the test blocks on the child process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_flushes_the_buffer_before_exit() {
    // A long flush interval: only the shutdown flush can ship these.
    let mut s = start(&[("CLOUDWATCH_LOG_FLUSH_MS", "60000")]).await;
    requests(&s.client, "last-", 20, 10).await;
    s.proc.signal(libc::SIGTERM);
    assert_eq!(s.proc.wait_exit(Duration::from_secs(20)).await, 0);
    let ids = shipped_ids(&s.moto, "last-");
    assert_eq!(ids.len(), 20, "all buffered lines shipped before exit");
    assert!(
        s.moto
            .log_messages(GROUP, STREAM)
            .iter()
            .any(|m| m.contains("itemsd stopped")),
        "even the last line"
    );
}

// Multi-threaded, like every test here: the proxy runs on the test's runtime and must keep
// serving while the test blocks on the child process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_deleted_mid_run_is_recreated() {
    let mut s = start(&[]).await;
    requests(&s.client, "first-", 3, 10).await;
    wait_for_ids(&s.moto, "first-", 3, Duration::from_secs(20)).await;
    assert!(
        s.moto
            .aws(&[
                "logs",
                "delete-log-stream",
                "--log-group-name",
                GROUP,
                "--log-stream-name",
                STREAM
            ])
            .is_some(),
        "stream deleted"
    );
    requests(&s.client, "second-", 3, 10).await;
    let line = s
        .proc
        .wait_for_log("PutLogEvents failed", Duration::from_secs(20))
        .await;
    assert_eq!(line["action"], "Recreate", "{line}");
    let ids = wait_for_ids(&s.moto, "second-", 3, Duration::from_secs(20)).await;
    assert_eq!(ids, ["second-00000", "second-00001", "second-00002"]);
}
