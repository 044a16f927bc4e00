//! Ctrl-C: cancel the running verdict and kill every process group backlings started.
//!
//! Learner programs and cargo run in their own process groups, so the terminal's SIGINT never reaches them;
//! without this, an infinite loop would outlive a Ctrl-C'd backlings.

use std::sync::atomic::{AtomicI32, Ordering};

use backlings_grade::sandbox::{self, Cancel};

static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

/// Cancels `cancel` and kills the sandbox's process groups on SIGINT or SIGTERM (once per process).
pub fn cancel_on_ctrl_c(cancel: Cancel) {
    let mut fds = [0; 2];
    // SAFETY: pipe(2) fills the two descriptors we pass.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0
        || WAKE_FD
            .compare_exchange(-1, fds[1], Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
    {
        return;
    }
    // The handler may only do async-signal-safe work: it writes one byte; this thread does the rest.
    std::thread::spawn(move || {
        let mut byte = 0u8;
        // SAFETY: read(2) into a one-byte buffer we own.
        while unsafe { libc::read(fds[0], (&raw mut byte).cast(), 1) } != 1 {}
        cancel.cancel();
        // Every wait loop sees the cancel within milliseconds and reports the run as cancelled; killing the
        // groups here at once would make it look like a crash. This is the backstop for anything not waited on.
        std::thread::sleep(std::time::Duration::from_millis(300));
        sandbox::kill_all();
    });
    // SAFETY: installing a handler that only calls write(2), which is async-signal-safe.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
        libc::sigemptyset(&raw mut action.sa_mask);
        libc::sigaction(libc::SIGINT, &raw const action, std::ptr::null_mut());
        libc::sigaction(libc::SIGTERM, &raw const action, std::ptr::null_mut());
    }
}

extern "C" fn on_signal(_signal: libc::c_int) {
    let byte = 1u8;
    // SAFETY: write(2) of one byte to the pipe made in `cancel_on_ctrl_c`.
    unsafe { libc::write(WAKE_FD.load(Ordering::SeqCst), (&raw const byte).cast(), 1) };
}

/// Lets a closed stdout (`backlings list | head`) end backlings quietly, as it does other command-line tools,
/// instead of a panic in `println!`.
pub fn restore_default_sigpipe() {
    // SAFETY: resetting a signal disposition to its default.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}
