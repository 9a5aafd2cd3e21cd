//! The real server, in-process on port 0, with its logs kept in memory.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use itemsd::config::Config;
use itemsd::shutdown::Shutdown;
use itemsd::startup::Application;
use itemsd::telemetry::log::{Level, Logger, MemorySink};

use super::client::{Client, TestResponse};
use super::pg::Cluster;

pub struct TestApp {
    pub addr: SocketAddr,
    pub shutdown: Shutdown,
    pub logs: Arc<MemorySink>,
    pub client: Client,
    pub database: String,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// The configuration every test app starts from; `overrides` win.
pub fn test_config(cluster: &Cluster, database: &str, overrides: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<String, String> = [
        ("APPLICATION_PORT", "0"),
        ("BIND_ADDRESS", "127.0.0.1"),
        ("DB_CONNECT_TIMEOUT_SECONDS", "2"),
        ("SHUTDOWN_DELAY_SECONDS", "0"),
        ("HEALTH_PROBE_INTERVAL_SECONDS", "1"),
        ("INSTANCE_ID", "i-test"),
        // No IMDS here; the tests that want it point AWS_EC2_METADATA_SERVICE_ENDPOINT at a
        // stand-in and set this back to false.
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("LOG_LEVEL", "DEBUG"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .chain(
        cluster
            .env(database)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v)),
    )
    .collect();
    for (k, v) in overrides {
        vars.insert(k.to_string(), v.to_string());
    }
    Config::from_lookup(|name| vars.get(name).cloned()).expect("valid test configuration")
}

impl TestApp {
    /// Starts itemsd on a fresh database of `cluster`.
    pub async fn spawn(cluster: &Cluster, overrides: &[(&str, &str)]) -> Self {
        let database = cluster.fresh_database().await;
        Self::spawn_on(cluster, &database, overrides).await
    }

    /// Starts itemsd on `database`, which need not exist or be reachable yet.
    pub async fn spawn_on(cluster: &Cluster, database: &str, overrides: &[(&str, &str)]) -> Self {
        let config = test_config(cluster, database, overrides);
        let logs = Arc::new(MemorySink::default());
        let logger = Logger::new(Level::Debug, logs.clone());
        let app = Application::build(config, logger)
            .await
            .expect("itemsd builds");
        let addr = app.local_addr();
        let shutdown = Shutdown::new();
        let task = tokio::spawn(app.run(shutdown.clone()));
        Self {
            addr,
            shutdown,
            logs,
            client: Client::new(addr),
            database: database.to_owned(),
            task: Some(task),
        }
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.client.get(path).await
    }

    pub async fn post_json(&self, path: &str, body: &str) -> TestResponse {
        self.client
            .send(
                "POST",
                path,
                &[("content-type", "application/json")],
                body.as_bytes(),
            )
            .await
    }

    /// Polls `path` until `done` holds for the answer, or panics after `within`.
    pub async fn wait_for(
        &self,
        path: &str,
        within: Duration,
        done: impl Fn(&TestResponse) -> bool,
    ) -> TestResponse {
        let what = format!("{path} reached the expected state");
        super::eventually_ok(&what, within, || async {
            let resp = self.get(path).await;
            if done(&resp) {
                Ok(resp)
            } else {
                Err(format!("{} {}", resp.status, resp.text()))
            }
        })
        .await
    }

    /// Requests shutdown and waits for `run` to return.
    pub async fn stop(mut self) {
        self.shutdown.request();
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .expect("itemsd stops within 30 s")
                .expect("itemsd's task did not panic");
        }
    }

    /// Parsed log lines whose `msg` is `msg`.
    pub fn log_lines(&self, msg: &str) -> Vec<serde_json::Value> {
        self.logs
            .lines()
            .iter()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("every log line is JSON"))
            .filter(|v| v["msg"] == msg)
            .collect()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
