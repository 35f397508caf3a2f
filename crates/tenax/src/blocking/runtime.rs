//! The thread a blocking client's requests run on: a current-thread tokio runtime the client
//! owns, stopped (and its thread joined) when the client's last handle goes.

use std::future::Future;
use std::sync::Mutex;
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use crate::error::Error;
use crate::sync::lock;

pub(super) struct Runtime {
    handle: tokio::runtime::Handle,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Runtime {
    /// Starts the thread and its runtime.
    pub(super) fn start() -> Result<Runtime, Error> {
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("tenax-blocking".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => return drop(handle_tx.send(Err(e))),
                };
                let _ = handle_tx.send(Ok(rt.handle().clone()));
                // Drives every request spawned here until the client is dropped.
                rt.block_on(async move {
                    let _ = stop_rx.await;
                });
            })
            .map_err(|e| Error::builder(format!("the blocking client's thread: {e}")))?;
        let handle = handle_rx
            .recv()
            .map_err(|_| Error::builder("the blocking client's thread ended at start"))?
            .map_err(|e| Error::builder(format!("the blocking client's runtime: {e}")))?;
        Ok(Runtime {
            handle,
            stop: Mutex::new(Some(stop_tx)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Runs `f` on the client's thread and waits for it. Refused inside an async runtime,
    /// whose thread this would block.
    pub(super) fn block_on<F>(&self, f: F) -> Result<F::Output, Error>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        refuse_inside_async()?;
        let (tx, rx) = oneshot::channel();
        self.handle.spawn(async move {
            let _ = tx.send(f.await);
        });
        rx.blocking_recv()
            .map_err(|_| Error::builder("the blocking client's runtime stopped"))
    }
}

/// An error when called from inside an async runtime.
pub(super) fn refuse_inside_async() -> Result<(), Error> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::builder(
            "tenax::blocking::Client was called from inside an async runtime, whose thread it \
             would block: use tenax::Client there",
        ));
    }
    Ok(())
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(stop) = lock(&self.stop).take() {
            let _ = stop.send(());
        }
        let thread = lock(&self.thread).take();
        // Inside an async runtime the thread is left to end on its own rather than block.
        if let Some(thread) = thread
            && refuse_inside_async().is_ok()
        {
            let _ = thread.join();
        }
    }
}
