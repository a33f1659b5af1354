//! `inventory find`: model files found by their bytes, whatever their names, also inside tar,
//! tar.gz and zip archives (and archives inside those, a few levels deep). Writes nothing.
//!
//! A member inside an archive is named `archive.tar!inner/path` (nested: `a.zip!b.tar!c`).
//! Plain tar and stored zip members are read in place; compressed members are decompressed
//! in memory up to [`MEMBER_LIMIT`] bytes, and a larger one is identified from that prefix
//! (enough for every header but a zip's central directory).
//!
//! Given a [`Recognize`] (the weight fingerprints of `modelward-fingerprint`, wired by the
//! binary: this crate does not know how models are recognised), every model file found, in
//! folders and archives alike, is also compared with the registered models and reported with
//! the models it is a copy of ([`Found::copies`]).

use std::io::Read;
use std::path::PathBuf;

use flate2::read::MultiGzDecoder;
use serde_json::Value;

use crate::artifact::Progress;
use crate::blob::{read_upto, Blob, BlobReader, FileBlob, PrefixBlob, SliceBlob};
use crate::error::FormatError;
use crate::format::{identify_with_prefix, Format, Identified, PREFIX};
use crate::walk::{walk, Item};
use crate::{tar, zip};

/// The most bytes of one compressed member held in memory.
pub const MEMBER_LIMIT: u64 = 64 * 1024 * 1024;
/// How many archives deep the finder looks.
pub const MAX_DEPTH: usize = 4;

/// A model file found.
#[derive(Clone, Debug, PartialEq)]
pub struct Found {
    /// Path, or `archive!member` inside archives.
    pub location: String,
    pub format: Format,
    pub size: u64,
    pub metadata: Value,
    pub warnings: Vec<String>,
    /// The registered models it is a copy of, most certain first (empty without a
    /// [`Recognize`], or when it is a copy of none).
    pub copies: Vec<ModelCopy>,
    /// Whether a [`Recognize`] compared it (false for formats without readable tensors).
    pub examined: bool,
}

pub use modelward_event::objects::ModelCopy;

/// What a [`Recognize`] made of one model file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Recognized {
    /// Whether it was compared (a format with readable tensors).
    pub examined: bool,
    pub copies: Vec<ModelCopy>,
}

/// Recognises model files as copies of registered models. `modelward_fingerprint`'s
/// registry implements it; find hands it every model file it finds, with its bytes.
pub trait Recognize {
    /// The models `blob` (found at `location`, identified as `id`) is a copy of. An error is
    /// reported at the location and counted; the file is still reported as found.
    fn recognize(
        &self,
        location: &str,
        blob: &dyn Blob,
        id: &Identified,
    ) -> Result<Recognized, String>;
}

/// One line of a find report.
pub enum FindEvent<'a> {
    Found(&'a Found),
    /// A path or member that could not be read (reported, skipped).
    Error {
        location: &'a str,
        message: &'a str,
    },
}

/// Counts of a find.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FindSummary {
    pub files: u64,
    pub found: u64,
    pub errors: u64,
    /// Model files compared by the [`Recognize`] given.
    pub examined: u64,
    /// Copies of registered models found (a file that copies two models counts twice; the
    /// files the models were registered from are not copies).
    pub copies: u64,
}

/// What a found model's bytes are handed to (its location, bytes and identification) before
/// it is reported: `inventory scan` hashes archive members through it.
pub type MemberHook<'a> = dyn FnMut(&str, &dyn Blob, &Identified) + 'a;

struct Ctx<'a, 'r> {
    summary: FindSummary,
    report: &'a mut dyn FnMut(FindEvent<'_>),
    bytes: Option<&'a mut MemberHook<'a>>,
    recognize: Option<&'r dyn Recognize>,
}

impl Ctx<'_, '_> {
    fn found_blob(&mut self, location: String, blob: &dyn Blob, id: Identified) {
        if let Some(hook) = self.bytes.as_mut() {
            hook(&location, blob, &id);
        }
        let mut recognized = Recognized::default();
        if let Some(r) = self.recognize {
            match r.recognize(&location, blob, &id) {
                Ok(found) => {
                    self.summary.examined += u64::from(found.examined);
                    self.summary.copies += found.copies.iter().filter(|c| !c.source).count() as u64;
                    recognized = found;
                }
                Err(e) => self.error(&location, e),
            }
        }
        self.found(location, blob.size(), id, recognized);
    }

    fn found(&mut self, location: String, size: u64, id: Identified, recognized: Recognized) {
        self.summary.found += 1;
        let f = Found {
            location,
            format: id.format,
            size,
            metadata: id.metadata_json(),
            warnings: id.warnings,
            copies: recognized.copies,
            examined: recognized.examined,
        };
        (self.report)(FindEvent::Found(&f));
    }

    fn error(&mut self, location: &str, message: impl std::fmt::Display) {
        self.summary.errors += 1;
        (self.report)(FindEvent::Error {
            location,
            message: &message.to_string(),
        });
    }
}

/// Finds model files under `paths`.
pub fn find(
    paths: &[PathBuf],
    progress: &mut dyn Progress,
    report: &mut dyn FnMut(FindEvent<'_>),
) -> FindSummary {
    find_copies(paths, progress, None, report)
}

/// [`find`], each model file found also handed to `recognize` (when given) and reported with
/// the registered models it is a copy of.
pub fn find_copies(
    paths: &[PathBuf],
    progress: &mut dyn Progress,
    recognize: Option<&dyn Recognize>,
    report: &mut dyn FnMut(FindEvent<'_>),
) -> FindSummary {
    let mut items = Vec::new();
    for p in paths {
        walk(p, &mut |item| items.push(item));
    }
    progress.total(
        items
            .iter()
            .map(|i| match i {
                Item::File { size, .. } => *size,
                _ => 0,
            })
            .sum(),
    );
    let mut ctx = Ctx {
        summary: FindSummary::default(),
        report,
        bytes: None,
        recognize,
    };
    for item in items {
        match item {
            Item::File { path, size, .. } => {
                ctx.summary.files += 1;
                let location = path.display().to_string();
                progress.file(&location);
                match FileBlob::open(&path) {
                    Ok(blob) => in_blob(&blob, &location, 0, &mut ctx),
                    Err(e) => ctx.error(&location, e),
                }
                progress.advance(size);
            }
            Item::SavedModel { path, identified } => {
                ctx.summary.files += 1;
                let size = crate::artifact::size_of(&path).unwrap_or(0);
                ctx.found(
                    path.display().to_string(),
                    size,
                    identified,
                    Recognized::default(),
                );
            }
            Item::Error(e) => {
                let text = e.to_string();
                ctx.error("", text.as_str());
            }
        }
    }
    ctx.summary
}

/// Identifies `blob` bytes-first; if it is no model but an archive, looks inside.
pub fn find_in_blob(
    blob: &dyn Blob,
    location: &str,
    recognize: Option<&dyn Recognize>,
    report: &mut dyn FnMut(FindEvent<'_>),
) -> FindSummary {
    let mut ctx = Ctx {
        summary: FindSummary::default(),
        report,
        bytes: None,
        recognize,
    };
    in_blob(blob, location, 0, &mut ctx);
    ctx.summary
}

/// The model files inside the archive `blob` (named `location!member`, nested archives too),
/// each handed to `member` with its bytes before it is reported. For a `blob` that is no model
/// itself (one that is is handed over and not looked into).
pub fn members_of<'a>(
    blob: &dyn Blob,
    location: &str,
    member: &'a mut MemberHook<'a>,
    report: &'a mut dyn FnMut(FindEvent<'_>),
) -> FindSummary {
    let mut ctx = Ctx {
        summary: FindSummary::default(),
        report,
        bytes: Some(member),
        recognize: None,
    };
    in_blob(blob, location, 0, &mut ctx);
    ctx.summary
}

fn in_blob(blob: &dyn Blob, location: &str, depth: usize, ctx: &mut Ctx<'_, '_>) {
    let prefix = match read_upto(blob, 0, PREFIX) {
        Ok(p) => p,
        Err(e) => return ctx.error(location, e),
    };
    match identify_with_prefix(blob, &prefix) {
        Ok(Some(id)) => return ctx.found_blob(location.to_string(), blob, id),
        Ok(None) => {}
        Err(FormatError::Bad { format: "zip", .. }) => {}
        Err(e) => return ctx.error(location, e),
    }
    if depth >= MAX_DEPTH {
        return;
    }
    if zip::matches(&prefix) {
        zip_members(blob, location, depth, ctx);
    } else if tar::matches(&prefix) {
        let mut src = BlobReader::new(blob, 0, blob.size());
        let result = tar::walk(&mut src, &mut |m, _| {
            let member = SliceBlob::new(blob, m.offset, m.size);
            in_blob(&member, &format!("{location}!{}", m.name), depth + 1, ctx);
            Ok(())
        });
        if let Err(e) = result {
            ctx.error(location, e);
        }
    } else if prefix.starts_with(&[0x1f, 0x8b]) {
        gzip(blob, location, depth, ctx);
    }
}

fn zip_members(blob: &dyn Blob, location: &str, depth: usize, ctx: &mut Ctx<'_, '_>) {
    let entries = match zip::entries(blob) {
        Ok(e) => e,
        Err(e) => return ctx.error(location, format!("zip: {e}")),
    };
    for e in entries.iter().filter(|e| !e.is_dir()) {
        let inner = format!("{location}!{}", e.name);
        match zip::open(blob, e, MEMBER_LIMIT) {
            Ok(member) => in_blob(member.blob(), &inner, depth + 1, ctx),
            Err(err) => ctx.error(&inner, format!("zip: {err}")),
        }
    }
}

/// Reads up to [`MEMBER_LIMIT`] bytes of a member of `size` bytes into a blob.
fn buffer(r: &mut dyn Read, size: Option<u64>) -> std::io::Result<Box<dyn Blob>> {
    let mut bytes = Vec::new();
    r.take(MEMBER_LIMIT).read_to_end(&mut bytes)?;
    let complete = match size {
        Some(s) => bytes.len() as u64 >= s,
        None => {
            let mut one = [0u8; 1];
            r.read(&mut one)? == 0
        }
    };
    Ok(if complete {
        Box::new(bytes)
    } else {
        let declared = size.unwrap_or(u64::MAX);
        Box::new(PrefixBlob { bytes, declared })
    })
}

fn gzip(blob: &dyn Blob, location: &str, depth: usize, ctx: &mut Ctx<'_, '_>) {
    let mut decoder = MultiGzDecoder::new(BlobReader::new(blob, 0, blob.size()));
    let mut head = Vec::with_capacity(512);
    if let Err(e) = (&mut decoder).take(512).read_to_end(&mut head) {
        return ctx.error(location, format!("gzip: {e}"));
    }
    let mut stream = tar::Stream(head.as_slice().chain(decoder));
    if tar::matches(&head) {
        let result = tar::walk(&mut stream, &mut |m, r| {
            let inner = format!("{location}!{}", m.name);
            match buffer(r, Some(m.size)) {
                Ok(member) => in_blob(member.as_ref(), &inner, depth + 1, ctx),
                Err(e) => ctx.error(&inner, e),
            }
            Ok(())
        });
        if let Err(e) = result {
            ctx.error(location, format!("tar.gz: {e}"));
        }
        return;
    }
    // A single gzipped file.
    let inner = format!("{location}!");
    match buffer(&mut stream, None) {
        Ok(member) => in_blob(member.as_ref(), &inner, depth + 1, ctx),
        Err(e) => ctx.error(location, format!("gzip: {e}")),
    }
}
