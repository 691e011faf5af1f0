//! SIGTERM / SIGINT for the commands that stop cleanly on them (`sync`, `run`): handlers
//! registered once, before any work, and the signals counted, so `run --drain` can tell the
//! first signal (finish the run) from the second (abandon it).

use tokio::sync::watch;

/// SIGTERM/SIGINT, counted from [`Signals::install`] on.
pub struct Signals {
    rx: watch::Receiver<(u32, &'static str)>,
}

impl Signals {
    /// Registers the handlers now and counts signals in a task; `on_signal` is called with
    /// the count so far and the signal's name as each one arrives (e.g. to log it).
    pub fn install(
        on_signal: impl Fn(u32, &'static str) + Send + 'static,
    ) -> anyhow::Result<Signals> {
        let (tx, rx) = watch::channel((0u32, ""));
        let arrived = move |name: &'static str| {
            tx.send_modify(|(n, s)| {
                *n += 1;
                *s = name;
            });
            let n = tx.borrow().0;
            on_signal(n, name);
        };
        #[cfg(unix)]
        {
            use anyhow::Context;
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = signal(SignalKind::terminate()).context("installing SIGTERM")?;
            let mut int = signal(SignalKind::interrupt()).context("installing SIGINT")?;
            tokio::spawn(async move {
                loop {
                    let name = tokio::select! {
                        Some(_) = term.recv() => "SIGTERM",
                        Some(_) = int.recv() => "SIGINT",
                        else => break,
                    };
                    arrived(name);
                }
            });
        }
        #[cfg(not(unix))]
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                arrived("SIGINT");
            }
        });
        Ok(Signals { rx })
    }

    /// Signals so far.
    pub fn count(&self) -> u32 {
        self.rx.borrow().0
    }

    /// Completes once `n` signals have arrived (counting those before the call), naming the
    /// last.
    pub fn wait(&self, n: u32) -> impl std::future::Future<Output = &'static str> + use<> {
        let mut rx = self.rx.clone();
        async move {
            match rx.wait_for(|(c, _)| *c >= n).await {
                Ok(v) => v.1,
                Err(_) => std::future::pending().await,
            }
        }
    }
}
