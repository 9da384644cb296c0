//! The setters in a process with one thread, as at the start of `main`: no test harness (it
//! runs tests on threads of its own), so `main` here is the process's only thread.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic fails the test"
)]

fn main() {
    if !cfg!(all(target_os = "linux", target_env = "gnu")) {
        assert!(!glibc_malloc::set_mmap_threshold(128 * 1024));
        assert!(!glibc_malloc::set_arena_max(2));
        return;
    }
    assert!(glibc_malloc::single_threaded());
    assert!(glibc_malloc::set_mmap_threshold(128 * 1024));
    assert!(glibc_malloc::set_arena_max(2));
    let _ = glibc_malloc::trim();

    // Once another thread exists, they refuse.
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let other = std::thread::spawn(move || {
        let _ = stopped.recv();
    });
    assert!(!glibc_malloc::single_threaded());
    assert!(!glibc_malloc::set_arena_max(2));
    drop(stop);
    other.join().unwrap();
    println!("glibc-malloc single-thread checks: 1 passed, 0 failed");
}
