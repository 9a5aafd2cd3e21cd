//! Host metrics under the CloudWatch agent's names, read from /proc and statfs, so dashboards
//! and alarms made for the agent keep working without it.

use std::collections::HashMap;
use std::ffi::CString;

/// One host reading; `dims` are extra dimensions (the agent's `path`, `device`, `fstype`,
/// `name`).
#[derive(Clone, Debug, PartialEq)]
pub struct HostMetric {
    pub name: &'static str,
    pub value: f64,
    pub percent: bool,
    pub dims: Vec<(&'static str, String)>,
}

#[derive(Clone, Copy, Debug, Default)]
struct CpuTimes {
    user: u64,
    system: u64,
    idle: u64,
    iowait: u64,
    total: u64,
}

/// Keeps the previous CPU and disk counters, since the agent reports rates over the interval.
#[derive(Default)]
pub struct HostSampler {
    cpu: Option<CpuTimes>,
    io_ticks: Option<u64>,
}

fn meminfo() -> HashMap<String, u64> {
    std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, rest) = l.split_once(':')?;
            let kb = rest.split_whitespace().next()?.parse().ok()?;
            Some((k.to_owned(), kb))
        })
        .collect()
}

fn cpu_times() -> Option<CpuTimes> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let f: Vec<u64> = line
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal
    let get = |i: usize| f.get(i).copied().unwrap_or(0);
    Some(CpuTimes {
        user: get(0) + get(1),
        system: get(2) + get(5) + get(6),
        idle: get(3),
        iowait: get(4),
        total: f.iter().take(8).sum(),
    })
}

/// The root filesystem's device and type, from the mount table.
fn root_mount() -> Option<(String, String)> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts.lines().rev().find_map(|l| {
        let mut parts = l.split_whitespace();
        let (device, path, fstype) = (parts.next()?, parts.next()?, parts.next()?);
        (path == "/").then(|| (device.to_owned(), fstype.to_owned()))
    })
}

fn disk_used_percent(path: &str) -> Option<f64> {
    let c_path = CString::new(path).ok()?;
    // SAFETY: statvfs only writes into the zeroed struct we own.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut s) } != 0 {
        return None;
    }
    // As the agent computes it: used / (used + available to unprivileged users).
    let used = (s.f_blocks - s.f_bfree) as f64;
    let avail = s.f_bavail as f64;
    (used + avail > 0.0).then(|| used / (used + avail) * 100.0)
}

fn tcp_states() -> (u64, u64) {
    let mut established = 0;
    let mut time_wait = 0;
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        for line in std::fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .skip(1)
        {
            match line.split_whitespace().nth(3) {
                Some("01") => established += 1,
                Some("06") => time_wait += 1,
                _ => {}
            }
        }
    }
    (established, time_wait)
}

/// Milliseconds the device has spent doing I/O (diskstats field 13), for a device name.
fn io_ticks(device: &str) -> Option<u64> {
    let stats = std::fs::read_to_string("/proc/diskstats").ok()?;
    stats.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.get(2) == Some(&device)).then(|| f.get(12)?.parse().ok())?
    })
}

impl HostSampler {
    /// Reads everything; rates (CPU, disk I/O) appear from the second call on.
    pub fn sample(&mut self) -> Vec<HostMetric> {
        let mut out = Vec::new();
        let mut push = |name, value, percent, dims| {
            out.push(HostMetric {
                name,
                value,
                percent,
                dims,
            })
        };
        let mem = meminfo();
        if let (Some(total), Some(avail)) = (mem.get("MemTotal"), mem.get("MemAvailable")) {
            if *total > 0 {
                push(
                    "mem_used_percent",
                    (total - avail.min(total)) as f64 / *total as f64 * 100.0,
                    true,
                    vec![],
                );
            }
        }
        let swap_total = mem.get("SwapTotal").copied().unwrap_or(0);
        let swap_free = mem.get("SwapFree").copied().unwrap_or(0);
        let swap = if swap_total > 0 {
            (swap_total - swap_free.min(swap_total)) as f64 / swap_total as f64 * 100.0
        } else {
            0.0
        };
        push("swap_used_percent", swap, true, vec![]);

        if let Some(now) = cpu_times() {
            if let Some(before) = self.cpu {
                let total = now.total.saturating_sub(before.total) as f64;
                if total > 0.0 {
                    let pct = |a: u64, b: u64| a.saturating_sub(b) as f64 / total * 100.0;
                    push("cpu_usage_idle", pct(now.idle, before.idle), true, vec![]);
                    push(
                        "cpu_usage_iowait",
                        pct(now.iowait, before.iowait),
                        true,
                        vec![],
                    );
                    push("cpu_usage_user", pct(now.user, before.user), true, vec![]);
                    push(
                        "cpu_usage_system",
                        pct(now.system, before.system),
                        true,
                        vec![],
                    );
                }
            }
            self.cpu = Some(now);
        }

        let (established, time_wait) = tcp_states();
        push("netstat_tcp_established", established as f64, false, vec![]);
        push("netstat_tcp_time_wait", time_wait as f64, false, vec![]);

        if let Some((device, fstype)) = root_mount() {
            let short = device.trim_start_matches("/dev/").to_owned();
            if let Some(used) = disk_used_percent("/") {
                push(
                    "disk_used_percent",
                    used,
                    true,
                    vec![
                        ("path", "/".to_owned()),
                        ("device", short.clone()),
                        ("fstype", fstype),
                    ],
                );
            }
            if let Some(ticks) = io_ticks(&short) {
                if let Some(before) = self.io_ticks {
                    push(
                        "diskio_io_time",
                        ticks.saturating_sub(before) as f64,
                        false,
                        vec![("name", short)],
                    );
                }
                self.io_ticks = Some(ticks);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_agents_names_from_this_host() {
        let mut sampler = HostSampler::default();
        let first = sampler.sample();
        let names: Vec<&str> = first.iter().map(|m| m.name).collect();
        for name in [
            "mem_used_percent",
            "swap_used_percent",
            "netstat_tcp_established",
        ] {
            assert!(names.contains(&name), "{name} in {names:?}");
        }
        // Rates need two readings.
        let busy: u64 = (0..2_000_000u64).fold(0, |a, b| a.wrapping_add(b * b));
        assert!(busy > 0);
        let second = sampler.sample();
        assert!(
            second.iter().any(|m| m.name == "cpu_usage_idle"),
            "{second:?}"
        );
        for m in first.iter().chain(&second).filter(|m| m.percent) {
            assert!((0.0..=100.0).contains(&m.value), "{m:?}");
        }
    }
}
