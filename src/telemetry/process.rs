//! Process metrics read from `/proc/self`: what `process_*` in Prometheus client libraries mean.

use std::time::{SystemTime, UNIX_EPOCH};

/// The kernel's clock ticks per second for `/proc/self/stat` CPU times (`sysconf(_SC_CLK_TCK)`).
fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions; it only reads a system constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

fn page_size() -> u64 {
    // SAFETY: as above.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).unwrap_or(4096)
}

#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessStats {
    pub resident_bytes: u64,
    pub cpu_seconds: f64,
    pub open_fds: u64,
    pub max_fds: u64,
    pub start_time_seconds: f64,
    pub threads: u64,
}

/// Reads the current figures; fields that cannot be read stay zero (off Linux, say).
pub fn read() -> ProcessStats {
    let mut stats = ProcessStats::default();
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        // Fields after the command name, which is in parentheses and may hold spaces.
        if let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) {
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // Field numbers from proc(5), minus the two before this slice (pid, comm) and one.
            let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());
            let ticks = clock_ticks();
            stats.cpu_seconds = (field(14).unwrap_or(0) + field(15).unwrap_or(0)) as f64 / ticks;
            stats.threads = field(20).unwrap_or(0);
            stats.resident_bytes = field(24).unwrap_or(0) * page_size();
            if let Some(start_ticks) = field(22) {
                stats.start_time_seconds = boot_time() + start_ticks as f64 / ticks;
            }
        }
    }
    stats.open_fds = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count() as u64)
        .unwrap_or(0);
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        stats.max_fds = limit.rlim_cur;
    }
    stats
}

fn boot_time() -> f64 {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|v| v.trim().parse::<f64>().ok())
        })
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0)
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_this_process() {
        let s = super::read();
        assert!(s.resident_bytes > 1024 * 1024, "{s:?}");
        assert!(s.open_fds >= 3, "{s:?}");
        assert!(s.threads >= 1, "{s:?}");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs_f64();
        assert!(
            s.start_time_seconds > now - 3600.0 && s.start_time_seconds <= now + 1.0,
            "{s:?}"
        );
    }
}
