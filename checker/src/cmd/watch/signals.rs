//! SIGTERM, SIGINT and SIGHUP as events of the watch loop, so that every way of ending backlings goes through
//! the same cleanup: cancel the run, kill every child, restore the terminal.
//!
//! The handler only writes the signal number into a pipe (the self-pipe trick: `write` is one of the few calls
//! allowed in a signal handler); a thread blocked on the pipe's other end turns it into an [`Event::Signal`].

use std::fs::File;
use std::io::Read;
use std::os::fd::FromRawFd;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc::Sender;
use std::thread;

use anyhow::Context;

use super::events::Event;

static PIPE_WRITE_END: AtomicI32 = AtomicI32::new(-1);

/// Routes SIGTERM, SIGINT and SIGHUP to `events` for the rest of the process's life.
pub fn forward_to(events: Sender<Event>) -> anyhow::Result<()> {
    let mut fds = [0; 2];
    // SAFETY: pipe() fills the two-element array; FD_CLOEXEC keeps both ends out of every child we start.
    let created = unsafe {
        libc::pipe(fds.as_mut_ptr()) == 0
            && libc::fcntl(fds[0], libc::F_SETFD, libc::FD_CLOEXEC) == 0
            && libc::fcntl(fds[1], libc::F_SETFD, libc::FD_CLOEXEC) == 0
    };
    if !created {
        return Err(std::io::Error::last_os_error()).context("cannot create the signal pipe");
    }
    PIPE_WRITE_END.store(fds[1], Ordering::SeqCst);
    // SAFETY: fds[0] is a pipe end we just created and own from here on.
    let mut read_end = unsafe { File::from_raw_fd(fds[0]) };
    let forward = move || {
        let mut byte = [0u8; 1];
        while read_end.read_exact(&mut byte).is_ok() {
            if events.send(Event::Signal(i32::from(byte[0]))).is_err() {
                return;
            }
        }
    };
    thread::Builder::new()
        .name("watch-signals".into())
        .spawn(forward)
        .context("cannot start the signal thread")?;
    for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        // SAFETY: a zeroed sigaction plus a handler that only calls async-signal-safe functions.
        let installed = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut()) == 0
        };
        if !installed {
            return Err(std::io::Error::last_os_error()).context("cannot install a signal handler");
        }
    }
    Ok(())
}

extern "C" fn on_signal(signal: libc::c_int) {
    let fd = PIPE_WRITE_END.load(Ordering::SeqCst);
    let byte = u8::try_from(signal).unwrap_or(u8::MAX);
    // SAFETY: write(2) on a pipe is async-signal-safe; errno is put back so the interrupted code never sees ours.
    unsafe {
        let errno = errno_location();
        let saved = *errno;
        libc::write(fd, (&raw const byte).cast(), 1);
        *errno = saved;
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
unsafe fn errno_location() -> *mut libc::c_int {
    // SAFETY: always valid for the calling thread.
    unsafe { libc::__errno_location() }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
unsafe fn errno_location() -> *mut libc::c_int {
    // SAFETY: always valid for the calling thread.
    unsafe { libc::__error() }
}
