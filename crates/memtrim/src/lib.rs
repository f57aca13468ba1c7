//! Giving freed heap memory back to the operating system, for a process whose heap grows with a
//! burst (thousands of connections at once) and shrinks when it ends.
//!
//! glibc's allocator keeps what a thread frees in that thread's arena for the next allocation and
//! returns memory to the kernel only from the top of the main arena. After a burst of connections
//! the freed blocks lie all over the arenas of the runtime's worker threads, so the resident size
//! stays at the burst's peak for the life of the process (measured: 71 MiB resident a minute after
//! 10,000 idle connections closed, against 14 MiB before them). `malloc_trim(0)` walks every arena
//! and hands the whole free pages back (`madvise(MADV_DONTNEED)`) without moving anything: after it,
//! the same process was at 15 MiB. Allocators that purge on their own (mimalloc) were measured too
//! and kept more (`BENCHMARKS.md`, "Memory of idle connections").
//!
//! Elsewhere than glibc the call does nothing: other C libraries' allocators differ, and what they
//! keep is theirs to decide. The crate denies `unsafe` except in the single block below.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// Hand the heap's free pages back to the operating system; `true` if any memory was released.
/// It takes each arena's lock in turn while it walks it, for a few milliseconds on a heap of a
/// hundred megabytes: call it after a burst, off the request path, not per request.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn release_free_memory() -> bool {
    #[allow(unsafe_code)]
    // SAFETY: malloc_trim takes no pointer of ours; it only walks the allocator's own free lists
    // under their locks, which is safe to do from any thread at any time.
    let released = unsafe { libc::malloc_trim(0) };
    released == 1
}

/// Hand the heap's free pages back to the operating system: nothing to do with this C library.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_free_memory() -> bool {
    false
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::release_free_memory;

    /// Resident pages of this process, in KiB.
    fn rss_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// The shape of a burst: many small blocks, written, freed all but a few spread among them
    /// (so that the heap's top cannot simply shrink), then trimmed.
    #[test]
    fn freed_blocks_in_the_middle_of_the_heap_are_given_back() {
        const BLOCKS: usize = 40_000;
        let mut blocks: Vec<Vec<u8>> = (0..BLOCKS).map(|i| vec![i as u8; 2048]).collect();
        let full = rss_kib();
        // Keep one block in 256: every page run between them is free but not at the top.
        let kept: Vec<Vec<u8>> = blocks
            .drain(..)
            .enumerate()
            .filter(|(i, _)| i % 256 == 0)
            .map(|(_, b)| b)
            .collect();
        let freed = rss_kib();
        assert!(release_free_memory(), "nothing was released");
        let trimmed = rss_kib();
        // 40,000 blocks of 2 KiB are some 80 MiB; freeing them alone gives little back.
        assert!(
            freed + 40_000 > full && trimmed + 40_000 < freed,
            "RSS {full} KiB written, {freed} KiB freed, {trimmed} KiB trimmed"
        );
        assert_eq!(kept.len(), BLOCKS / 256 + 1);
    }
}
