//! Reading inputs on their own thread while records are processed in parallel.

use std::sync::mpsc::sync_channel;

use modelward_event::input::{Batch, InputError, InputPath, Reader, ReaderOptions};

use crate::{Diagnostic, Session};

/// What the pipeline tells its caller as it goes.
pub trait Progress {
    /// A batch was read and processed.
    fn batch(&mut self, _batch: &Batch) {}
    /// After each batch: the session, for a driver that takes ready alerts as it goes.
    fn pushed(&mut self, _session: &mut Session) {}
    /// An input, or a stretch of one, could not be read.
    fn input_error(&mut self, error: InputError);
    fn diagnostic(&mut self, diagnostic: Diagnostic);
}

/// Reads every input in order on a reader thread (so reading and decompressing overlap
/// with processing) and pushes the batches into the session.
pub fn ingest_inputs(
    session: &mut Session,
    inputs: &[InputPath],
    options: &ReaderOptions,
    progress: &mut dyn Progress,
) {
    std::thread::scope(|scope| {
        let (tx, rx) = sync_channel::<Result<Batch, InputError>>(4);
        scope.spawn(move || {
            for input in inputs {
                let items: Box<dyn Iterator<Item = Result<Batch, InputError>>> =
                    match Reader::open(input, options.clone()) {
                        Ok(reader) => Box::new(reader),
                        Err(e) => Box::new(std::iter::once(Err(e))),
                    };
                for item in items {
                    if tx.send(item).is_err() {
                        return;
                    }
                }
            }
        });
        for item in rx {
            match item {
                Ok(batch) => {
                    session.push(&batch, &mut |d| progress.diagnostic(d));
                    progress.batch(&batch);
                    progress.pushed(session);
                }
                Err(e) => progress.input_error(e),
            }
        }
    });
}
