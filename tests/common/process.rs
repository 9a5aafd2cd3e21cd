//! The real binary as a child process, with its stdout read line by line.

use std::net::SocketAddr;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

use super::pg;

/// The one way tests start the real binary: `envs` is its whole environment (nothing is
/// inherited), a later setting of a name replacing an earlier one.
pub fn itemsd(envs: &[(&str, String)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_itemsd"));
    cmd.env_clear();
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd
}

/// What every served run starts from: a port of the kernel's choosing on loopback, no
/// pre-stop delay, no IMDS (a test that exercises it sets `AWS_EC2_METADATA_DISABLED=false`),
/// a connect timeout a test can wait out. A test adds its own settings after these.
pub fn base_env() -> Vec<(&'static str, String)> {
    vec![
        ("APPLICATION_PORT", "0".into()),
        ("BIND_ADDRESS", "127.0.0.1".into()),
        ("SHUTDOWN_DELAY_SECONDS", "0".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("DB_CONNECT_TIMEOUT_SECONDS", "2".into()),
    ]
}

/// [`base_env`] with database `db` of `cluster`.
pub fn db_env(cluster: &pg::Cluster, db: &str) -> Vec<(&'static str, String)> {
    let mut env = base_env();
    env.extend(cluster.env(db));
    env
}

/// A running itemsd process and its stdout, line by line.
pub struct Process {
    child: tokio::process::Child,
    /// Lines as the reader task takes them off stdout; closed when stdout ends.
    lines: mpsc::UnboundedReceiver<String>,
    /// Every line received so far, for the waits and for failure messages.
    seen: Vec<String>,
}

impl Process {
    /// Starts `cmd` (from [`itemsd`]); it is killed when the `Process` is dropped.
    pub fn spawn(cmd: Command) -> Self {
        let mut child = tokio::process::Command::from(cmd)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("itemsd starts");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a log line with `msg`, returning it parsed.
    pub async fn wait_for_log(&mut self, msg: &str, within: Duration) -> serde_json::Value {
        self.wait_for_log_count(msg, 1, within).await
    }

    /// Waits until `n` log lines with `msg` have appeared; returns the `n`th.
    pub async fn wait_for_log_count(
        &mut self,
        msg: &str,
        n: usize,
        within: Duration,
    ) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + within;
        let mut found = Vec::new();
        let mut next = 0;
        loop {
            // Parse each line once, however long the wait.
            for line in &self.seen[next..] {
                let v: serde_json::Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line}"));
                if v["msg"] == msg {
                    found.push(v);
                }
            }
            next = self.seen.len();
            if found.len() >= n {
                return found.swap_remove(n - 1);
            }
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(line)) => self.seen.push(line),
                ended => panic!(
                    "{} of {n} log lines {msg:?} within {within:?} ({}); last lines:\n{}",
                    found.len(),
                    if ended.is_ok() {
                        "stdout closed"
                    } else {
                        "timed out"
                    },
                    self.seen[self.seen.len().saturating_sub(20)..].join("\n")
                ),
            }
        }
    }

    /// Takes in the lines written so far without waiting for more.
    pub fn read_available(&mut self) {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
    }

    /// Everything read from stdout so far.
    pub fn output(&self) -> String {
        self.seen.join("\n")
    }

    /// Waits until it listens; where.
    pub async fn addr(&mut self) -> SocketAddr {
        let line = self
            .wait_for_log("itemsd listening", Duration::from_secs(20))
            .await;
        line["address"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .expect("listening address")
    }

    pub fn signal(&self, signal: i32) {
        let pid = self.child.id().expect("still running");
        signal_pid(pid, signal);
    }

    /// Waits for the process to exit by itself, returning its exit code.
    pub async fn wait_exit(&mut self, within: Duration) -> i32 {
        self.wait_end(within)
            .await
            .code()
            .expect("exited, not killed")
    }

    /// Waits for the process to end by a signal, returning the signal's number.
    pub async fn wait_killed(&mut self, within: Duration) -> i32 {
        use std::os::unix::process::ExitStatusExt;
        self.wait_end(within)
            .await
            .signal()
            .expect("ended by a signal")
    }

    /// Waits for the process to end, then takes in everything it wrote (until stdout closes).
    async fn wait_end(&mut self, within: Duration) -> ExitStatus {
        let status = tokio::time::timeout(within, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("itemsd still runs after {within:?}"))
            .expect("wait");
        // The reader ends at stdout's end; a grandchild holding it open is bounded by this.
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while let Some(line) = self.lines.recv().await {
                self.seen.push(line);
            }
        })
        .await;
        status
    }
}

/// Sends `signal` to a child process of this test.
pub fn signal_child(child: &std::process::Child, signal: i32) {
    signal_pid(child.id(), signal);
}

fn signal_pid(pid: u32, signal: i32) {
    let pid = i32::try_from(pid).expect("pid");
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
}
