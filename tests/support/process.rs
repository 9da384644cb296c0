//! Processes by PID, read from `/proc` and signalled with the `kill` command: no libc, no
//! unsafe code, and never a process chosen by its name.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The state letter of `/proc/PID/stat` (`R`, `S`, `D`, `Z`, ...); `None` when no such process.
pub fn state(pid: u32) -> Option<char> {
    stat(pid).map(|(state, _)| state)
}

/// The parent PID of `pid`; `None` when no such process.
pub fn parent(pid: u32) -> Option<u32> {
    stat(pid).map(|(_, ppid)| ppid)
}

/// True while `pid` exists and is neither a zombie nor dead (`Z`/`X`): the process still runs,
/// as opposed to waiting for its parent to reap it.
pub fn is_alive(pid: u32) -> bool {
    matches!(state(pid), Some(s) if s != 'Z' && s != 'X')
}

/// The executable `pid` runs (the target of `/proc/PID/exe`).
pub fn exe(pid: u32) -> Option<PathBuf> {
    fs::read_link(format!("/proc/{pid}/exe")).ok()
}

/// Live (non-zombie) children of `parent` whose executable is `exe` (compare canonical paths).
pub fn live_children_running(parent_pid: u32, exe_path: &Path) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<u32> = entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| parent(pid) == Some(parent_pid))
        .filter(|&pid| is_alive(pid) && exe(pid).as_deref() == Some(exe_path))
        .collect();
    pids.sort_unstable();
    pids
}

/// Sends `SIG{signal}` (`"TERM"`, `"KILL"`, ...) to `pid` with the `kill` command.
/// Returns whether `kill` reported success.
pub fn signal(pid: u32, signal: &str) -> bool {
    Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|status| status.success())
        .unwrap_or(false)
}

/// Stops a child this process spawned: SIGTERM, up to `grace` for it to exit, then SIGKILL.
/// Always reaps it, so its PID is gone (not a zombie) on return.
pub fn stop_child(child: &mut Child, grace: Duration) {
    if !matches!(child.try_wait(), Ok(None)) {
        return; // already exited and reaped
    }
    // The child is not reaped yet, so its PID cannot have been reused: safe to signal by PID.
    if signal(child.id(), "TERM") {
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            match child.try_wait() {
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                _ => return,
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Parses `(state, ppid)` from `/proc/PID/stat`; the command name may contain spaces and
/// parentheses, so fields are counted from the last `)`.
fn stat(pid: u32) -> Option<(char, u32)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = text[text.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// True when `pid` owns the TCP socket listening on `127.0.0.1:port` (read from
/// `/proc/net/tcp` and `/proc/PID/fd`). Tells our server apart from another process that won
/// a race for the same port.
pub fn listens_on(pid: u32, port: u16) -> bool {
    let Ok(table) = fs::read_to_string("/proc/net/tcp") else {
        return false;
    };
    let local = format!("0100007F:{port:04X}");
    let inodes: Vec<String> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
            (cols.len() > 9 && cols[1] == local && cols[3] == "0A")
                .then(|| format!("socket:[{}]", cols[9]))
        })
        .collect();
    if inodes.is_empty() {
        return false;
    }
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.filter_map(|fd| fs::read_link(fd.ok()?.path()).ok())
        .any(|target| {
            inodes
                .iter()
                .any(|inode| target.as_os_str() == inode.as_str())
        })
}
