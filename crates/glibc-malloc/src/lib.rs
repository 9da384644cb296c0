//! glibc's `mallopt` and `malloc_trim`, behind a safe interface.
//!
//! Why this crate exists: the plugin crate forbids unsafe code (`unsafe_code = "forbid"` in its
//! Cargo.toml, which no `#[allow]` can lift), and these two glibc calls, which give a large
//! reply's memory back to the system (see the plugin's `framework::memory`), need `unsafe`:
//! they are foreign functions, and no maintained crate on crates.io wraps them safely (`libc`
//! declares them `unsafe`). So the two calls live here, alone, each allowed where it stands.
//!
//! Only glibc has these functions. On any other target every function does nothing and returns
//! `false`.

#![deny(unsafe_code)]

/// Sets glibc's `M_MMAP_THRESHOLD`: every allocation of `bytes` or more gets its own mapping,
/// given back to the system when freed (glibc's default threshold rises to the largest buffer
/// freed so far, and this also stops that).
///
/// Returns whether the parameter was set: `false` if another thread exists (see
/// [`single_threaded`]), off glibc, or if glibc refused the value.
pub fn set_mmap_threshold(bytes: i32) -> bool {
    single_threaded() && sys::mallopt(sys::M_MMAP_THRESHOLD, bytes)
}

/// Sets glibc's `M_ARENA_MAX`: at most `arenas` allocation arenas in all (the default is eight
/// per core).
///
/// Returns whether the parameter was set: `false` if another thread exists (see
/// [`single_threaded`]), off glibc, or if glibc refused the value.
pub fn set_arena_max(arenas: i32) -> bool {
    single_threaded() && sys::mallopt(sys::M_ARENA_MAX, arenas)
}

/// Gives the free pages of every arena back to the system (`malloc_trim(0)`). Any thread may
/// call it, at any time. Returns whether glibc released any memory.
pub fn trim() -> bool {
    sys::malloc_trim(0)
}

/// Whether the calling thread is the process's only one, which `mallopt` needs: glibc documents
/// it as MT-Unsafe (allocations in other threads read the parameters it writes without a lock).
/// This check is what makes the two setters safe: with one thread, no other can start while
/// they run. Reads `/proc/self/task` (one entry per thread); `false` if it cannot be read.
pub fn single_threaded() -> bool {
    std::fs::read_dir("/proc/self/task").is_ok_and(|tasks| tasks.take(2).count() == 1)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod sys {
    use std::ffi::c_int;

    /// `M_MMAP_THRESHOLD` (malloc.h).
    pub(crate) const M_MMAP_THRESHOLD: c_int = -3;
    /// `M_ARENA_MAX` (malloc.h).
    pub(crate) const M_ARENA_MAX: c_int = -8;

    extern "C" {
        #[link_name = "mallopt"]
        fn glibc_mallopt(param: c_int, value: c_int) -> c_int;
        #[link_name = "malloc_trim"]
        fn glibc_malloc_trim(pad: usize) -> c_int;
    }

    /// `mallopt(param, value)`; whether glibc accepted it (it returns 1 then). Call only when
    /// [`super::single_threaded`].
    pub(crate) fn mallopt(param: c_int, value: c_int) -> bool {
        // SAFETY: mallopt takes no pointers and only writes allocator parameters, checking
        // `param` and `value` itself (it refuses an unknown parameter or a value out of range
        // with 0). It is MT-Unsafe: every caller first checks that no other thread exists.
        #[allow(unsafe_code, reason = "a call to glibc's mallopt, a foreign function")]
        let accepted = unsafe { glibc_mallopt(param, value) };
        accepted == 1
    }

    /// `malloc_trim(pad)`; whether glibc released any memory (it returns 1 then).
    pub(crate) fn malloc_trim(pad: usize) -> bool {
        // SAFETY: malloc_trim takes no pointers and only returns free pages to the system,
        // under each arena's lock; glibc documents it as MT-Safe, so any thread may call it.
        #[allow(
            unsafe_code,
            reason = "a call to glibc's malloc_trim, a foreign function"
        )]
        let released = unsafe { glibc_malloc_trim(pad) };
        released == 1
    }
}

/// Elsewhere: nothing to tune.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod sys {
    pub(crate) const M_MMAP_THRESHOLD: i32 = 0;
    pub(crate) const M_ARENA_MAX: i32 = 0;

    pub(crate) fn mallopt(_param: i32, _value: i32) -> bool {
        false
    }

    pub(crate) fn malloc_trim(_pad: usize) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A unit test runs beside the harness's main thread, and this one starts one more: the
    /// setters refuse. (tests/single_thread.rs checks that they work in a one-thread process.)
    #[test]
    fn setters_refuse_once_another_thread_exists() {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let other = std::thread::spawn(move || {
            let _ = stopped.recv();
        });
        assert!(!single_threaded());
        assert!(!set_mmap_threshold(128 * 1024));
        assert!(!set_arena_max(2));
        drop(stop);
        other.join().unwrap();
    }

    #[test]
    fn trim_runs_from_any_thread() {
        let _ = trim();
        std::thread::spawn(|| {
            let _ = trim();
        })
        .join()
        .unwrap();
    }
}
