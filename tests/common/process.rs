//! The real binary as a child process, with its stdout read line by line.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::pg;

pub fn itemsd(envs: &[(&str, String)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_itemsd"));
    cmd.env_clear();
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd
}

pub fn db_env(cluster: &pg::Cluster, db: &str) -> Vec<(&'static str, String)> {
    let mut env = cluster.env(db);
    env.push(("DB_CONNECT_TIMEOUT_SECONDS", "2".into()));
    env
}

/// A running itemsd process and its stdout, line by line.
pub struct Process {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Process {
    pub fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("itemsd starts");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
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
    pub fn wait_for_log(&mut self, msg: &str, within: Duration) -> serde_json::Value {
        self.wait_for_log_count(msg, 1, within)
    }

    /// Waits until `n` log lines with `msg` have appeared; returns the `n`th.
    pub fn wait_for_log_count(
        &mut self,
        msg: &str,
        n: usize,
        within: Duration,
    ) -> serde_json::Value {
        let deadline = Instant::now() + within;
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
            let now = Instant::now();
            assert!(
                now < deadline,
                "{} of {n} log lines {msg:?} within {within:?}; last lines:\n{}",
                found.len(),
                self.seen[self.seen.len().saturating_sub(20)..].join("\n")
            );
            if let Ok(line) = self.lines.recv_timeout(deadline - now) {
                self.seen.push(line);
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

    pub fn addr(&mut self) -> SocketAddr {
        let line = self.wait_for_log("itemsd listening", Duration::from_secs(20));
        line["address"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .expect("listening address")
    }

    pub fn signal(&self, signal: i32) {
        signal_child(&self.child, signal);
    }

    /// Waits for the process to exit by itself, returning its exit code.
    pub fn wait_exit(&mut self, within: Duration) -> i32 {
        self.wait_end(within).code().expect("exited, not killed")
    }

    /// Waits for the process to end by a signal, returning the signal's number.
    pub fn wait_killed(&mut self, within: Duration) -> i32 {
        use std::os::unix::process::ExitStatusExt;
        self.wait_end(within).signal().expect("ended by a signal")
    }

    /// Waits for the process to end, then takes in what it wrote last.
    fn wait_end(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
                    self.seen.push(line);
                }
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "itemsd still runs after {within:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Sends `signal` to a child process of this test.
pub fn signal_child(child: &Child, signal: i32) {
    let pid = i32::try_from(child.id()).expect("pid");
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
