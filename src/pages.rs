//! Mapping a large new buffer's pages in one call.
//!
//! A document the Memory store keeps is a fresh allocation, and a store
//! that grows writes it into memory the process has never touched: each
//! 4 KiB page then costs a page fault. A `perf` profile of a 64 KB
//! `create` had 47 % of its time in the kernel, nearly all of it faults
//! taken by the one copy that writes the body. Asking the kernel to map
//! the buffer's pages before that copy (`MADV_POPULATE_WRITE`, Linux 5.14)
//! does the same work in one call instead of sixteen exceptions: 64 KB
//! `create` went from ~13.5k to ~15.5k ops/s (README, "What each change
//! bought"). It changes no byte of memory and maps only the pages that
//! hold the buffer; on an older kernel or another OS it does nothing.

/// Buffers smaller than this are written without asking: a few faults
/// cost less than the call.
pub const POPULATE_FROM: usize = 32 * 1024;

/// Maps the pages under `buf`'s capacity, writable, if it is at least
/// `POPULATE_FROM` bytes. Best effort: a refusal is ignored, and the
/// writes that follow fault the pages in as they would have.
pub fn populate(buf: &mut String) {
    let cap = buf.capacity();
    if worth_it(cap) {
        populate_range(buf.as_mut_ptr() as usize, cap);
    }
}

fn worth_it(cap: usize) -> bool {
    cap >= POPULATE_FROM
}

/// Maps the pages holding the `len` bytes at address `at`.
#[cfg(target_os = "linux")]
fn populate_range(at: usize, len: usize) {
    // From the page holding the first byte: madvise wants a page-aligned
    // start, and pages are 16 or 64 KiB on some arm64 kernels.
    let start = at & !(page_size() - 1);
    // SAFETY: [start, at + len) lies in pages of the mapping that holds the
    // allocation; MADV_POPULATE_WRITE only faults them in, never changes
    // their contents, and fails (ignored) rather than touch anything unmapped.
    unsafe {
        libc::madvise(
            start as *mut libc::c_void,
            at + len - start,
            libc::MADV_POPULATE_WRITE,
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn populate_range(_at: usize, _len: usize) {}

/// The kernel's page size (a power of two; 4 KiB if it cannot be read).
#[cfg(target_os = "linux")]
fn page_size() -> usize {
    // SAFETY: sysconf reads a value; glibc and musl answer from the auxiliary vector.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size)
        .ok()
        .filter(|s| s.is_power_of_two())
        .unwrap_or(4096)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// How many of the `pages` pages from the page-aligned address `from`
    /// are resident (`mincore`); they must be mapped.
    fn resident(from: usize, pages: usize) -> usize {
        let mut vec = vec![0u8; pages];
        // SAFETY: the caller's pages are mapped; `vec` has one byte a page.
        let rc = unsafe {
            libc::mincore(
                from as *mut libc::c_void,
                pages * page_size(),
                vec.as_mut_ptr(),
            )
        };
        assert_eq!(rc, 0, "mincore");
        vec.iter().filter(|&&b| b & 1 == 1).count()
    }

    /// `resident` over the pages under `buf`'s capacity, and how many there are.
    fn resident_pages(buf: &mut String) -> (usize, usize) {
        let at = buf.as_mut_ptr() as usize;
        let start = at & !(page_size() - 1);
        let pages = (at + buf.capacity() - start).div_ceil(page_size());
        (resident(start, pages), pages)
    }

    #[test]
    fn a_large_buffer_is_mapped_before_it_is_written_and_keeps_its_bytes() {
        // 64 MiB: over glibc's largest mmap threshold (32 MiB), so a fresh
        // mapping, never touched; a smaller one may reuse freed, resident memory.
        const SIZE: usize = 64 << 20;
        let mut buf = String::with_capacity(SIZE);
        buf.push_str("kept");
        let (before, pages) = resident_pages(&mut buf);
        assert!(before < pages / 2, "{before} of {pages} resident before");
        populate(&mut buf);
        let (after, _) = resident_pages(&mut buf);
        assert_eq!(after, pages, "{after} of {pages} resident after");
        assert_eq!(buf, "kept");
        assert_eq!(buf.capacity(), SIZE);
    }

    #[test]
    fn only_a_buffer_of_32_kib_or_more_is_worth_the_call() {
        assert!(!worth_it(0));
        assert!(!worth_it(1));
        assert!(!worth_it(POPULATE_FROM - 1));
        assert!(worth_it(POPULATE_FROM));
        assert!(worth_it(64 * 1024));
    }

    /// Exactly the pages holding the range, from an unaligned start: not
    /// one page before it nor after it (those belong to other allocations,
    /// or to no one).
    #[test]
    fn exactly_the_pages_of_the_range_are_mapped() {
        let page = page_size();
        let len = 3000 * page;
        // SAFETY: a fresh private anonymous mapping, unmapped below.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(base, libc::MAP_FAILED);
        // Small pages only, whatever the machine's THP mode: a huge page would map neighbours too.
        // SAFETY: advice on the mapping made above.
        unsafe { libc::madvise(base, len, libc::MADV_NOHUGEPAGE) };
        let base = base as usize;
        // 100 bytes into page 1000, 20 pages and 100 bytes long: pages 1000 to 1020.
        populate_range(base + 1000 * page + 100, 20 * page + 100);
        assert_eq!(resident(base + 1000 * page, 21), 21, "the range's pages");
        assert_eq!(resident(base, 1000), 0, "the pages before it");
        assert_eq!(resident(base + 1021 * page, 1000), 0, "the pages after it");
        // SAFETY: the mapping made above, no longer used.
        unsafe { libc::munmap(base as *mut libc::c_void, len) };
    }
}
