use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::sync::Arc;

use flate2::read::MultiGzDecoder;
use serde_json::value::RawValue;

use super::{InputError, InputPath, ParseError};

/// Limits and sizes for reading.
#[derive(Debug, Clone)]
pub struct ReaderOptions {
    /// Longest record (line) accepted; a longer one is reported and skipped.
    pub max_record_bytes: usize,
    /// Largest whole-document input (a JSON array or a pretty-printed object).
    pub max_document_bytes: usize,
    /// About how many bytes one batch holds.
    pub batch_bytes: usize,
}

impl Default for ReaderOptions {
    fn default() -> ReaderOptions {
        ReaderOptions {
            max_record_bytes: 64 << 20,
            max_document_bytes: 2 << 30,
            batch_bytes: 4 << 20,
        }
    }
}

/// Where one raw record lies in its batch, and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordSpan {
    pub start: usize,
    pub end: usize,
    /// 1-based line of the record's first byte.
    pub line: u64,
    /// Byte offset of the record's first byte in the (decompressed) input.
    pub offset: u64,
}

/// Raw records read from one input, in order.
#[derive(Debug, Clone)]
pub struct Batch {
    pub file: Arc<str>,
    pub data: Vec<u8>,
    pub records: Vec<RecordSpan>,
}

impl Batch {
    pub fn bytes(&self, span: &RecordSpan) -> &[u8] {
        &self.data[span.start..span.end]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Unknown,
    Lines,
    Done,
}

/// Reads one input as a sequence of [`Batch`]es, with errors in between.
pub struct Reader {
    name: Arc<str>,
    src: Box<dyn Read + Send>,
    gzip: bool,
    opts: ReaderOptions,
    mode: Mode,
    carry: Vec<u8>,
    /// Lines fully consumed so far.
    line: u64,
    /// Bytes consumed so far (start of `carry`).
    offset: u64,
    /// Inside an over-long record: discard up to the next newline.
    skipping: bool,
    eof: bool,
    /// An error to hand out before the next batch.
    pending: Option<InputError>,
}

impl Reader {
    pub fn open(input: &InputPath, opts: ReaderOptions) -> Result<Reader, InputError> {
        let name = input.display_name();
        let raw: Box<dyn Read + Send> = match input {
            InputPath::Stdin => Box::new(io::stdin()),
            InputPath::File(path) => {
                Box::new(File::open(path).map_err(|source| InputError::Open {
                    path: name.clone(),
                    source,
                })?)
            }
        };
        Reader::from_read(&name, raw, opts)
    }

    /// Reads from any byte stream; gzip is recognised by its magic bytes.
    pub fn from_read(
        name: &str,
        raw: Box<dyn Read + Send>,
        opts: ReaderOptions,
    ) -> Result<Reader, InputError> {
        let mut buffered = BufReader::with_capacity(256 << 10, raw);
        let head = buffered.fill_buf().map_err(|source| InputError::Open {
            path: name.to_string(),
            source,
        })?;
        let gzip = head.starts_with(&[0x1f, 0x8b]);
        let src: Box<dyn Read + Send> = if gzip {
            Box::new(MultiGzDecoder::new(buffered))
        } else {
            Box::new(buffered)
        };
        Ok(Reader {
            name: Arc::from(name),
            src,
            gzip,
            opts,
            mode: Mode::Unknown,
            carry: Vec::new(),
            line: 0,
            offset: 0,
            skipping: false,
            eof: false,
            pending: None,
        })
    }

    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// Reads until `carry` holds at least `want` bytes or the input ends.
    fn fill(&mut self, want: usize) -> Result<(), InputError> {
        let chunk = self.opts.batch_bytes.max(4096);
        while !self.eof && self.carry.len() < want {
            let len = self.carry.len();
            self.carry.resize(len + chunk, 0);
            match self.src.read(&mut self.carry[len..]) {
                Ok(0) => {
                    self.carry.truncate(len);
                    self.eof = true;
                }
                Ok(n) => self.carry.truncate(len + n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => self.carry.truncate(len),
                Err(source) => {
                    self.carry.truncate(len);
                    self.eof = true;
                    let offset = self.offset + len as u64;
                    let path = self.name.to_string();
                    return Err(if self.gzip {
                        InputError::Gzip {
                            path,
                            offset,
                            source,
                        }
                    } else {
                        InputError::Read {
                            path,
                            offset,
                            source,
                        }
                    });
                }
            }
        }
        Ok(())
    }

    /// Decides between line mode and whole-document mode from the first record.
    fn detect(&mut self) -> Option<Result<Batch, InputError>> {
        if let Err(e) = self.fill(self.opts.batch_bytes) {
            self.mode = Mode::Lines;
            return Some(Err(e));
        }
        if self.carry.starts_with(b"\xEF\xBB\xBF") {
            self.carry.drain(..3);
            self.offset += 3;
        }
        let first = self.carry.iter().position(|b| !b.is_ascii_whitespace());
        let document = match first.map(|i| self.carry[i]) {
            Some(b'[') => true,
            Some(b'{') => {
                let start = first.unwrap_or(0);
                let end = memchr::memchr(b'\n', &self.carry[start..]).map(|i| start + i);
                end.is_some_and(|end| {
                    serde_json::from_slice::<serde::de::IgnoredAny>(&self.carry[start..end])
                        .is_err_and(|e| e.is_eof())
                })
            }
            _ => false,
        };
        if document {
            self.mode = Mode::Done;
            return Some(self.read_document());
        }
        self.mode = Mode::Lines;
        None
    }

    fn read_document(&mut self) -> Result<Batch, InputError> {
        let limit = self.opts.max_document_bytes;
        self.fill(limit.saturating_add(1))?;
        if self.carry.len() > limit {
            return Err(InputError::DocumentTooLarge {
                path: self.name.to_string(),
                limit,
            });
        }
        let data = std::mem::take(&mut self.carry);
        let base = self.offset;
        let mut records = Vec::new();
        let mut counter = LineCounter::default();
        let mut stream = serde_json::Deserializer::from_slice(&data).into_iter::<&RawValue>();
        let mut error = None;
        for item in stream.by_ref() {
            match item {
                Ok(raw) => split_document(&data, raw, base, &mut counter, &mut records),
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = error {
            let err = ParseError {
                file: self.name.to_string(),
                line: e.line() as u64,
                column: e.column() as u64,
                message: format!("{}; the rest of this document is skipped", message_of(&e)),
            };
            if records.is_empty() {
                return Err(InputError::Malformed(err));
            }
            // Keep what parsed; the caller learns of the error through the records count.
            self.pending = Some(InputError::Malformed(err));
        }
        Ok(Batch {
            file: self.name.clone(),
            data,
            records,
        })
    }
}

impl Reader {
    /// The next batch of whole records, or an error about a stretch of input that was skipped.
    /// `None` once the input is exhausted.
    pub fn next_batch(&mut self) -> Option<Result<Batch, InputError>> {
        if let Some(e) = self.pending.take() {
            return Some(Err(e));
        }
        if self.mode == Mode::Unknown {
            if let Some(result) = self.detect() {
                return Some(result);
            }
        }
        if self.mode == Mode::Done {
            return None;
        }
        self.next_lines()
    }

    fn next_lines(&mut self) -> Option<Result<Batch, InputError>> {
        loop {
            if let Err(e) = self.fill(self.opts.batch_bytes) {
                return Some(Err(e));
            }
            if self.skipping && !self.skip_rest_of_record() {
                if self.eof {
                    self.mode = Mode::Done;
                    return None;
                }
                continue;
            }
            if self.carry.is_empty() && self.eof {
                self.mode = Mode::Done;
                return None;
            }
            let cut = match memchr::memrchr(b'\n', &self.carry) {
                Some(i) => i + 1,
                None if self.eof => self.carry.len(),
                None if self.carry.len() > self.opts.max_record_bytes => {
                    let err = InputError::RecordTooLong {
                        path: self.name.to_string(),
                        line: self.line + 1,
                        limit: self.opts.max_record_bytes,
                    };
                    self.offset += self.carry.len() as u64;
                    self.carry.clear();
                    self.skipping = true;
                    return Some(Err(err));
                }
                None => {
                    // A long record: read more before cutting.
                    let want = self.carry.len() + self.opts.batch_bytes;
                    if let Err(e) = self.fill(want) {
                        return Some(Err(e));
                    }
                    continue;
                }
            };
            let rest = self.carry.split_off(cut);
            let data = std::mem::replace(&mut self.carry, rest);
            return Some(Ok(self.split_lines(data)));
        }
    }

    /// Drops bytes up to and including the next newline; true once found.
    fn skip_rest_of_record(&mut self) -> bool {
        match memchr::memchr(b'\n', &self.carry) {
            Some(i) => {
                self.carry.drain(..=i);
                self.offset += i as u64 + 1;
                self.line += 1;
                self.skipping = false;
                true
            }
            None => {
                self.offset += self.carry.len() as u64;
                self.carry.clear();
                false
            }
        }
    }

    fn split_lines(&mut self, data: Vec<u8>) -> Batch {
        let mut records = Vec::new();
        let mut start = 0;
        let mut too_long = Vec::new();
        while start < data.len() {
            let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
            self.line += 1;
            let (s, e) = trim(&data, start, end);
            if e - s > self.opts.max_record_bytes {
                too_long.push(self.line);
            } else if s < e {
                records.push(RecordSpan {
                    start: s,
                    end: e,
                    line: self.line,
                    offset: self.offset + s as u64,
                });
            }
            start = end + 1;
        }
        self.offset += data.len() as u64;
        if let Some(line) = too_long.first() {
            self.pending = Some(InputError::RecordTooLong {
                path: self.name.to_string(),
                line: *line,
                limit: self.opts.max_record_bytes,
            });
        }
        Batch {
            file: self.name.clone(),
            data,
            records,
        }
    }
}

impl Iterator for Reader {
    type Item = Result<Batch, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_batch()
    }
}

fn trim(data: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    while start < end && data[start].is_ascii_whitespace() {
        start += 1;
    }
    while end > start && data[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    (start, end)
}

/// Counts newlines up to increasing positions.
#[derive(Default)]
struct LineCounter {
    pos: usize,
    line: u64,
}

impl LineCounter {
    fn line_at(&mut self, data: &[u8], pos: usize) -> u64 {
        if pos > self.pos {
            self.line += memchr::memchr_iter(b'\n', &data[self.pos..pos]).count() as u64;
            self.pos = pos;
        }
        self.line + 1
    }
}

/// Records of one top-level JSON value: the elements of an array, or the value itself.
fn split_document(
    data: &[u8],
    raw: &RawValue,
    base: u64,
    counter: &mut LineCounter,
    records: &mut Vec<RecordSpan>,
) {
    let text = raw.get();
    let mut push = |slice: &str, counter: &mut LineCounter| {
        let start = slice.as_ptr() as usize - data.as_ptr() as usize;
        let end = start + slice.len();
        records.push(RecordSpan {
            start,
            end,
            line: counter.line_at(data, start),
            offset: base + start as u64,
        });
    };
    if text.starts_with('[') {
        if let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(text) {
            for item in items {
                push(item.get(), counter);
            }
            return;
        }
    }
    push(text, counter);
}

/// serde_json's message without its trailing " at line L column C".
pub(crate) fn message_of(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}
