use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::sync::Arc;

use flate2::read::MultiGzDecoder;

use super::{InputError, InputPath, ParseError};

/// Limits and sizes for reading.
#[derive(Debug, Clone)]
pub struct ReaderOptions {
    /// Longest record accepted (a line, an element of a JSON array, a top-level value of a
    /// pretty-printed document); a longer one is reported and skipped without being
    /// buffered.
    pub max_record_bytes: usize,
    /// About how many bytes one batch holds.
    pub batch_bytes: usize,
}

impl Default for ReaderOptions {
    fn default() -> ReaderOptions {
        ReaderOptions {
            max_record_bytes: 64 << 20,
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
    /// A JSON array or pretty-printed document, read value by value.
    Document,
    Done,
}

/// Where a document's reading is: between top-level values, or inside a top-level array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Doc {
    /// Before a top-level value (or the end of input).
    Top,
    /// Inside a top-level array, before an element (`first`: right after `[`, where `]`
    /// may close an empty array).
    Element { first: bool },
    /// Inside a top-level array, after an element: `,` or `]`.
    AfterElement,
}

/// One JSON value scanned incrementally: brackets, strings and escapes only, enough to
/// find where it ends (its own syntax is the parser's business, record by record), and to
/// notice that it went wrong in a way that would swallow the values after it: a closing
/// bracket of the wrong kind, a line break inside a string (JSON escapes them; a value cut
/// off inside a string is the common case).
#[derive(Debug, Clone, Copy, Default)]
struct ValueScan {
    started: bool,
    depth: u32,
    /// Per nesting level (the first 128), whether it is an array.
    arrays: u128,
    in_string: bool,
    escaped: bool,
    /// A number or a literal: it ends at a delimiter.
    bare: bool,
}

/// What a [`ValueScan`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scanned {
    /// The value ends after the first `n` bytes.
    End(usize),
    /// It goes on past the bytes given.
    More,
    /// It is malformed at byte `n`: why.
    Bad(usize, &'static str),
}

impl ValueScan {
    fn open(&mut self, array: bool) {
        if self.depth < 128 {
            let bit = 1u128 << self.depth;
            if array {
                self.arrays |= bit;
            } else {
                self.arrays &= !bit;
            }
        }
        self.depth += 1;
    }

    /// Scans on from where the last call stopped.
    fn scan(&mut self, bytes: &[u8]) -> Scanned {
        let mut i = 0;
        while i < bytes.len() {
            if !self.started {
                self.started = true;
                match bytes[i] {
                    b'{' => self.open(false),
                    b'[' => self.open(true),
                    b'"' => self.in_string = true,
                    _ => self.bare = true,
                }
                i += 1;
                continue;
            }
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                    i += 1;
                    continue;
                }
                match memchr::memchr3(b'"', b'\\', b'\n', &bytes[i..]) {
                    None => return Scanned::More,
                    Some(k) if bytes[i + k] == b'\\' => {
                        self.escaped = true;
                        i += k + 1;
                    }
                    Some(k) if bytes[i + k] == b'\n' => {
                        return Scanned::Bad(i + k, "a line break inside a string");
                    }
                    Some(k) => {
                        self.in_string = false;
                        i += k + 1;
                        if self.depth == 0 {
                            return Scanned::End(i);
                        }
                    }
                }
                continue;
            }
            if self.bare {
                return match bytes[i..]
                    .iter()
                    .position(|b| b.is_ascii_whitespace() || matches!(b, b',' | b']' | b'}'))
                {
                    Some(k) => Scanned::End(i + k),
                    None => Scanned::More,
                };
            }
            match bytes[i] {
                b'"' => self.in_string = true,
                b'{' => self.open(false),
                b'[' => self.open(true),
                closer @ (b'}' | b']') => {
                    self.depth -= 1;
                    if self.depth < 128 {
                        let array = self.arrays & (1u128 << self.depth) != 0;
                        if array != (closer == b']') {
                            return Scanned::Bad(
                                i,
                                if array {
                                    "a `}` closes a `[`"
                                } else {
                                    "a `]` closes a `{`"
                                },
                            );
                        }
                    }
                    if self.depth == 0 {
                        return Scanned::End(i + 1);
                    }
                }
                _ => {}
            }
            i += 1;
        }
        Scanned::More
    }

    /// Whether the value is complete when the input ends here (a bare scalar is).
    fn complete_at_end(&self) -> bool {
        self.bare
    }
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
    /// In a document: where it is.
    doc: Doc,
    /// In a document, the value being read: its start in `carry`, how far it has been
    /// scanned, and the scan.
    value: Option<(usize, usize, ValueScan)>,
    /// In a document, a value longer than a record may be, being skipped.
    skip_value: Option<ValueScan>,
    /// What was consumed of the line `carry` starts in.
    head: LineHead,
}

/// The part of a line already consumed: its characters, and whether they are all blanks
/// (its indentation).
#[derive(Debug, Clone, Copy)]
struct LineHead {
    chars: u64,
    blank: bool,
}

impl Default for LineHead {
    fn default() -> LineHead {
        LineHead {
            chars: 0,
            blank: true,
        }
    }
}

impl LineHead {
    fn passed(&mut self, bytes: &[u8]) {
        let tail = match memchr::memrchr(b'\n', bytes) {
            Some(i) => {
                *self = LineHead::default();
                &bytes[i + 1..]
            }
            None => bytes,
        };
        self.chars += chars(tail);
        self.blank &= tail.iter().all(|b| matches!(b, b' ' | b'\t'));
    }
}

/// Characters in UTF-8 `bytes` (bytes that do not continue a sequence).
fn chars(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|b| **b & 0xC0 != 0x80).count() as u64
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
            doc: Doc::Top,
            value: None,
            skip_value: None,
            head: LineHead::default(),
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

    /// Decides between line mode and whole-document mode from the head of the input: a
    /// leading `[`, a first line that opens an object the next line does not stand apart
    /// from, or a pretty-printed value anywhere near the start ([`multi_line_value`]).
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
                let incomplete = |from: usize, to: usize| {
                    serde_json::from_slice::<serde::de::IgnoredAny>(&self.carry[from..to])
                        .is_err_and(|e| e.is_eof())
                };
                // A first line cut off (a file copied from the middle of a write, a
                // truncated head) is not a pretty-printed document when the line after it
                // is a whole object: NDJSON, its first record malformed.
                end.is_some_and(|end| incomplete(start, end) && !next_line_whole(&self.carry, end))
                    || multi_line_value(&self.carry, self.eof)
            }
            // Whatever the first value (`42`, a line of garbage, a one-line `{}`), a
            // pretty-printed value after it makes the input a document.
            _ => multi_line_value(&self.carry, self.eof),
        };
        self.mode = if document {
            Mode::Document
        } else {
            Mode::Lines
        };
        None
    }

    /// The next batch of a JSON array's elements or a document's top-level values, read
    /// as they come: memory holds a batch and the value being read, never the document.
    /// A value longer than `max_record_bytes` is reported and skipped without buffering
    /// it. One bad element is reported and skipped alone: a missing `,` between elements,
    /// a stray `,`, and a value that goes wrong (a closing bracket of the wrong kind, a line
    /// break inside a string, cut off by the end of input) is skipped up to the next line
    /// that starts as it did (the same indentation, the same opening bracket); only when
    /// there is none does the document end there, the records before it kept.
    fn next_document(&mut self) -> Option<Result<Batch, InputError>> {
        let mut records: Vec<RecordSpan> = Vec::new();
        // Where the records read so far end in `carry`, and the lines before it.
        let mut cut = 0;
        let mut counter = LineCounter::default();
        let mut pos = self.value.map_or(0, |(_, scanned, _)| scanned);
        loop {
            if let Some(scan) = self.skip_value.as_mut() {
                match scan.scan(&self.carry) {
                    Scanned::End(n) | Scanned::Bad(n, _) => {
                        // (A skipped value that goes wrong ends there: what follows is
                        // read as the document goes on.)
                        self.consume(n);
                        self.skip_value = None;
                        self.doc = self.after_value();
                    }
                    Scanned::More => {
                        let n = self.carry.len();
                        self.consume(n);
                        if self.eof {
                            self.mode = Mode::Done;
                            return self.pending.take().map(Err);
                        }
                        if let Err(e) = self.fill(1) {
                            return Some(Err(e));
                        }
                    }
                }
                pos = 0;
                counter = LineCounter::default();
                continue;
            }
            if pos >= self.carry.len() {
                if !self.eof && !records.is_empty() && cut >= self.opts.batch_bytes {
                    // Separators after the last record are done with, unless a value
                    // has started after them.
                    let at = if self.value.is_some() { cut } else { pos };
                    return Some(Ok(self.document_batch(at, records)));
                }
                if self.eof {
                    return self.end_of_document(cut, records);
                }
                let want = self.carry.len() + self.opts.batch_bytes.max(4096);
                if let Err(e) = self.fill(want) {
                    // What was read stands; the error comes next.
                    self.pending = Some(e);
                    self.eof = true;
                }
                continue;
            }
            if let Some((start, _, mut scan)) = self.value {
                match scan.scan(&self.carry[pos..]) {
                    Scanned::End(n) => {
                        let end = pos + n;
                        if end - start > self.opts.max_record_bytes {
                            // Whole already, and still too long.
                            let err = InputError::RecordTooLong {
                                path: self.name.to_string(),
                                line: self.line + counter.line_at(&self.carry, start),
                                limit: self.opts.max_record_bytes,
                            };
                            self.doc = self.after_value();
                            return self.recover(cut, records, end, err);
                        }
                        records.push(RecordSpan {
                            start,
                            end,
                            line: self.line + counter.line_at(&self.carry, start),
                            offset: self.offset + start as u64,
                        });
                        self.value = None;
                        cut = end;
                        pos = end;
                        self.doc = self.after_value();
                    }
                    Scanned::Bad(n, why) => {
                        // (The counter only goes forward: the value's start first.)
                        let at = self.line_column(&mut counter, start);
                        let (line, column) = self.line_column(&mut counter, pos + n);
                        let why = format!("a value that goes wrong at {line}:{column} ({why})");
                        return self.resync(cut, records, start, at, &why);
                    }
                    Scanned::More if self.carry.len() - start > self.opts.max_record_bytes => {
                        let line = self.line + counter.line_at(&self.carry, start);
                        let err = InputError::RecordTooLong {
                            path: self.name.to_string(),
                            line,
                            limit: self.opts.max_record_bytes,
                        };
                        self.skip_value = Some(scan);
                        // The records before it go first, then the error.
                        let all = self.carry.len();
                        return self.recover(cut, records, all, err);
                    }
                    Scanned::More => {
                        self.value = Some((start, self.carry.len(), scan));
                        pos = self.carry.len();
                    }
                }
                continue;
            }
            let b = self.carry[pos];
            if b.is_ascii_whitespace() {
                pos += 1;
                continue;
            }
            match (self.doc, b) {
                (Doc::Top, b'[') => {
                    self.doc = Doc::Element { first: true };
                    pos += 1;
                }
                (Doc::Element { first: true }, b']') | (Doc::AfterElement, b']') => {
                    self.doc = Doc::Top;
                    pos += 1;
                }
                (Doc::AfterElement, b',') => {
                    self.doc = Doc::Element { first: false };
                    pos += 1;
                }
                (Doc::AfterElement, _) => {
                    // A missing `,`: reported, and what follows read as the next element.
                    let at = self.line_column(&mut counter, pos);
                    let err = self.malformed(at, "expected `,` or `]` after an array element");
                    self.doc = Doc::Element { first: false };
                    return self.recover(cut, records, pos, err);
                }
                (Doc::Element { .. }, b']' | b',') => {
                    // `[,` `,,` `,]`: reported and passed over.
                    let at = self.line_column(&mut counter, pos);
                    let err = self.malformed(at, "expected an array element");
                    if b == b']' {
                        self.doc = Doc::Top;
                    }
                    return self.recover(cut, records, pos + 1, err);
                }
                (Doc::Top | Doc::Element { .. }, _) => {
                    self.value = Some((pos, pos, ValueScan::default()));
                }
            }
        }
    }

    fn malformed(&self, (line, column): (u64, u64), message: &str) -> InputError {
        InputError::Malformed(ParseError {
            file: self.name.to_string(),
            line,
            column,
            message: message.to_string(),
        })
    }

    /// Goes on after an error at `resume` in `carry`: the records read so far, then the
    /// error (or the error at once when there are none).
    fn recover(
        &mut self,
        cut: usize,
        records: Vec<RecordSpan>,
        resume: usize,
        err: InputError,
    ) -> Option<Result<Batch, InputError>> {
        self.value = None;
        if records.is_empty() {
            self.consume(resume);
            return Some(Err(err));
        }
        self.pending = Some(err);
        let batch = self.document_batch(cut, records);
        self.consume(resume - cut);
        Some(Ok(batch))
    }

    /// The value at `start` went wrong (`why`, at `at`): it is skipped up to the next line
    /// that starts as its own did (the same indentation, then the same opening bracket),
    /// read ahead within `max_record_bytes`. When there is none (or the value did not
    /// start a line), the document ends here.
    fn resync(
        &mut self,
        cut: usize,
        records: Vec<RecordSpan>,
        start: usize,
        at: (u64, u64),
        why: &str,
    ) -> Option<Result<Batch, InputError>> {
        let blank = |bytes: &[u8]| bytes.iter().all(|b| matches!(b, b' ' | b'\t'));
        let indent = match memchr::memrchr(b'\n', &self.carry[..start]) {
            Some(i) => blank(&self.carry[i + 1..start]).then_some(start - i - 1),
            None => (self.head.blank && blank(&self.carry[..start]))
                .then_some(self.head.chars as usize + start),
        };
        let Some(indent) = indent else {
            return self.structural_error(cut, records, at, why);
        };
        let opener = self.carry[start];
        let found = loop {
            if let Some(q) = resync_point(&self.carry, start, indent, opener) {
                break Some(q);
            }
            if self.eof || self.carry.len() - start > self.opts.max_record_bytes {
                break None;
            }
            let want = self.carry.len() + self.opts.batch_bytes.max(4096);
            if let Err(e) = self.fill(want) {
                self.pending = Some(e);
                self.eof = true;
            }
        };
        let Some(resume) = found else {
            return self.structural_error(cut, records, at, why);
        };
        let mut counter = LineCounter::default();
        let next = self.line + counter.line_at(&self.carry, resume);
        let err = self.malformed(
            at,
            &format!("{why}; this value is skipped, reading goes on at line {next}"),
        );
        if self.pending.is_some() {
            // (A read error while looking ahead: it says why the rest is missing.)
            self.pending = None;
        }
        if matches!(self.doc, Doc::AfterElement) {
            self.doc = Doc::Element { first: false };
        }
        self.recover(cut, records, resume, err)
    }
    /// Where a document goes after a value: the next element's separator inside an array.
    fn after_value(&self) -> Doc {
        match self.doc {
            Doc::Element { .. } | Doc::AfterElement => Doc::AfterElement,
            Doc::Top => Doc::Top,
        }
    }

    /// Drops the first `n` bytes of `carry`, counting their lines.
    fn consume(&mut self, n: usize) {
        self.line += memchr::memchr_iter(b'\n', &self.carry[..n]).count() as u64;
        self.offset += n as u64;
        self.head.passed(&self.carry[..n]);
        self.carry.drain(..n);
        if let Some((start, scanned, _)) = self.value.as_mut() {
            *start -= n;
            *scanned -= n;
        }
    }

    /// The records read so far, as a batch of `carry` up to `cut` (a value being read
    /// moves with what is left).
    fn document_batch(&mut self, cut: usize, records: Vec<RecordSpan>) -> Batch {
        let rest = self.carry.split_off(cut);
        let data = std::mem::replace(&mut self.carry, rest);
        self.line += memchr::memchr_iter(b'\n', &data).count() as u64;
        self.offset += data.len() as u64;
        self.head.passed(&data);
        if let Some((start, scanned, _)) = self.value.as_mut() {
            *start -= cut;
            *scanned -= cut;
        }
        Batch {
            file: self.name.clone(),
            data,
            records,
        }
    }

    /// (line, column) of `pos` in `carry`, 1-based.
    fn line_column(&self, counter: &mut LineCounter, pos: usize) -> (u64, u64) {
        let line = self.line + counter.line_at(&self.carry, pos);
        let (line_start, base) = match memchr::memrchr(b'\n', &self.carry[..pos]) {
            Some(i) => (i + 1, 0),
            None => (0, self.head.chars),
        };
        let column = base + chars(&self.carry[line_start..pos]) + 1;
        (line, column)
    }

    /// The document ends at a structural error: the records before it, then the error.
    fn structural_error(
        &mut self,
        cut: usize,
        records: Vec<RecordSpan>,
        at: (u64, u64),
        what: &str,
    ) -> Option<Result<Batch, InputError>> {
        let err = self.malformed(at, &format!("{what}; the rest of this document is skipped"));
        self.mode = Mode::Done;
        self.value = None;
        if records.is_empty() {
            return Some(Err(err));
        }
        self.pending = Some(err);
        Some(Ok(self.document_batch(cut, records)))
    }

    /// The input ended: a bare scalar in progress is a record, anything else cut off is an
    /// error; the records read go out first.
    fn end_of_document(
        &mut self,
        mut cut: usize,
        mut records: Vec<RecordSpan>,
    ) -> Option<Result<Batch, InputError>> {
        let mut counter = LineCounter::default();
        if let Some((start, _, scan)) = self.value.take() {
            if scan.complete_at_end() {
                records.push(RecordSpan {
                    start,
                    end: self.carry.len(),
                    line: self.line + counter.line_at(&self.carry, start),
                    offset: self.offset + start as u64,
                });
                cut = self.carry.len();
            } else if self.pending.is_none() {
                // (After a read error, that error says why the value is cut off.)
                let at = self.line_column(&mut counter, start);
                return self.resync(
                    cut,
                    records,
                    start,
                    at,
                    "a value cut off by the end of input",
                );
            }
        } else if matches!(self.doc, Doc::Element { .. } | Doc::AfterElement)
            && self.pending.is_none()
        {
            let end = self.carry.len();
            let at = self.line_column(&mut counter, end);
            return self.structural_error(cut, records, at, "an array cut off by the end of input");
        }
        self.mode = Mode::Done;
        if records.is_empty() {
            return self.pending.take().map(Err);
        }
        Some(Ok(self.document_batch(cut, records)))
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
        match self.mode {
            Mode::Done => None,
            Mode::Document => self.next_document(),
            _ => self.next_lines(),
        }
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

/// The first place after `start` where a line starts with `indent` blanks and then
/// `opener`: where the next value of a pretty-printed document or array begins.
fn resync_point(data: &[u8], start: usize, indent: usize, opener: u8) -> Option<usize> {
    memchr::memchr_iter(b'\n', &data[start..])
        .map(|i| start + i + 1)
        .find(|&ls| {
            data.len() > ls + indent
                && data[ls..ls + indent]
                    .iter()
                    .all(|b| matches!(b, b' ' | b'\t'))
                && data[ls + indent] == opener
        })
        .map(|ls| ls + indent)
}

/// How far into the head [`multi_line_value`] looks for a value that starts a line.
const DETECT_BYTES: usize = 1 << 20;

/// Whether `head` (the start of an input) shows a pretty-printed value: a line (among those
/// starting in its first [`DETECT_BYTES`]) that starts with `{` or `[` and opens a value
/// that ends cleanly on a later line, or that goes on, without a bracket or string going
/// wrong, past the end of the head (`eof`: the head is the whole input) while the line
/// after it is not a whole object. A one-line value (`{}`, `42`, a bad line) before such a
/// value does not make the input NDJSON; an NDJSON line cut off or broken by a raw line
/// break does not make it a document. The scan is bounded: about [`DETECT_BYTES`] plus
/// the head once.
fn multi_line_value(head: &[u8], eof: bool) -> bool {
    let mut line_start = 0;
    // Bytes scanned by candidates that ended on their own line, and lines passed over.
    let mut spent = 0;
    while line_start < head.len() && spent < DETECT_BYTES {
        let Some(newline) = memchr::memchr(b'\n', &head[line_start..]).map(|i| line_start + i)
        else {
            // The last line, on its own: nothing after it to span.
            return false;
        };
        let from = head[line_start..newline]
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .map(|i| line_start + i);
        if let Some(from) = from.filter(|&i| matches!(head[i], b'{' | b'[')) {
            match ValueScan::default().scan(&head[from..]) {
                Scanned::End(n) if from + n > newline => return true,
                Scanned::End(n) | Scanned::Bad(n, _) => spent += n,
                Scanned::More => {
                    // Nothing went wrong up to the end of the head: a document larger
                    // than it, unless the next line is a whole object (NDJSON whose line
                    // was cut off, its nesting never closed by the lines after it).
                    return !eof && !next_line_whole(head, newline);
                }
            }
        }
        spent += newline + 1 - line_start;
        line_start = newline + 1;
    }
    false
}

/// Whether the first non-blank line after the newline at `newline` is one whole JSON object.
fn next_line_whole(data: &[u8], newline: usize) -> bool {
    let rest = &data[(newline + 1).min(data.len())..];
    let Some(from) = rest.iter().position(|b| !b.is_ascii_whitespace()) else {
        return false;
    };
    let rest = &rest[from..];
    let line = memchr::memchr(b'\n', rest).map_or(rest, |i| &rest[..i]);
    let whole = |bytes: &[u8]| serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok();
    let line = line.trim_ascii_end();
    line.first() == Some(&b'{')
        && (whole(line) || super::lossy::repair(line).is_some_and(|(fixed, _)| whole(&fixed)))
}

/// serde_json's message without its trailing " at line L column C".
pub(crate) fn message_of(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every record of `text` read in batches of about `batch` bytes: (line, text), and the
    /// errors, in order.
    fn read(text: &str, batch: usize, max_record: usize) -> (Vec<(u64, String)>, Vec<String>) {
        let opts = ReaderOptions {
            max_record_bytes: max_record,
            batch_bytes: batch,
        };
        let reader = Reader::from_read(
            "t.json",
            Box::new(std::io::Cursor::new(text.to_string().into_bytes())),
            opts,
        )
        .unwrap();
        let mut records = Vec::new();
        let mut errors = Vec::new();
        for item in reader {
            match item {
                Ok(b) => records.extend(
                    b.records
                        .iter()
                        .map(|r| (r.line, String::from_utf8_lossy(b.bytes(r)).into_owned())),
                ),
                Err(e) => errors.push(e.to_string()),
            }
        }
        (records, errors)
    }

    #[test]
    fn array_elements_are_records_at_their_lines() {
        let text = "[\n  {\"a\": \"x,]}\\\"\"},\n  {\"b\": [1, {\"c\": 2}]}, 42, \"s\", true\n]\n";
        for batch in [1, 7, 4096] {
            let (records, errors) = read(text, batch, 1 << 20);
            assert!(errors.is_empty(), "{errors:?}");
            let texts: Vec<&str> = records.iter().map(|(_, t)| t.as_str()).collect();
            assert_eq!(
                texts,
                [
                    r#"{"a": "x,]}\""}"#,
                    r#"{"b": [1, {"c": 2}]}"#,
                    "42",
                    "\"s\"",
                    "true"
                ],
                "batch {batch}"
            );
            let lines: Vec<u64> = records.iter().map(|(l, _)| *l).collect();
            assert_eq!(lines, [2, 3, 3, 3, 3], "batch {batch}");
        }
        assert_eq!(read("[]", 4096, 1 << 20), (vec![], vec![]));
    }

    #[test]
    fn pretty_documents_are_one_record_each() {
        let text = "{\n  \"a\": 1\n}\n{\n  \"records\": [{\"b\": 2}]\n}\n";
        let (records, errors) = read(text, 3, 1 << 20);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(records.len(), 2);
        assert_eq!(
            (records[1].0, records[1].1.starts_with("{\n  \"records\"")),
            (4, true)
        );
    }

    #[test]
    fn a_long_element_is_skipped_without_the_others() {
        let long = format!("{{\"x\": \"{}\"}}", "y".repeat(5000));
        let text = format!("[{{\"a\": 1}},\n{long},\n{{\"a\": 2}}]");
        for batch in [16, 1000, 1 << 20] {
            let (records, errors) = read(&text, batch, 1000);
            let texts: Vec<&str> = records.iter().map(|(_, t)| t.as_str()).collect();
            assert_eq!(texts, [r#"{"a": 1}"#, r#"{"a": 2}"#], "batch {batch}");
            assert_eq!(records[1].0, 3, "batch {batch}");
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert!(
                errors[0].contains("t.json:2: record longer than the 1000-byte limit"),
                "{errors:?}"
            );
        }
    }

    #[test]
    fn one_bad_element_is_skipped_alone() {
        let texts = |records: Vec<(u64, String)>| -> Vec<String> {
            records
                .into_iter()
                .map(|(l, t)| format!("{l}:{t}"))
                .collect()
        };
        for batch in [1, 5, 4096] {
            // A missing comma, stray commas.
            let (records, errors) = read("[{\"a\": 1}\n {\"a\": 2},, 3,]", batch, 1 << 20);
            assert_eq!(
                texts(records),
                ["1:{\"a\": 1}", "2:{\"a\": 2}", "2:3"],
                "batch {batch}"
            );
            assert_eq!(
                errors,
                [
                    "t.json:2:2: expected `,` or `]` after an array element",
                    "t.json:2:11: expected an array element",
                    "t.json:2:15: expected an array element"
                ],
                "batch {batch}"
            );
            // An element cut off inside a string, one with a wrong bracket, and one cut
            // off by the end of its lines, in an indented array: each skipped alone.
            let text = "[\n  {\"a\": 1},\n  {\"p\": \"cut\n  {\"a\": 2},\n  {\"b\": [1, 2}},\n  {\"a\": 3},\n  {\"c\": {\"d\": 1,\n  {\"a\": 4}\n]\n";
            let (records, errors) = read(text, batch, 1 << 20);
            assert_eq!(
                texts(records),
                [
                    "2:{\"a\": 1}",
                    "4:{\"a\": 2}",
                    "6:{\"a\": 3}",
                    "8:{\"a\": 4}"
                ],
                "batch {batch}"
            );
            assert_eq!(
                errors,
                [
                    "t.json:3:3: a value that goes wrong at 3:13 (a line break inside a string); this value is skipped, reading goes on at line 4",
                    "t.json:5:3: a value that goes wrong at 5:14 (a `}` closes a `[`); this value is skipped, reading goes on at line 6",
                    "t.json:7:3: a value that goes wrong at 9:1 (a `]` closes a `{`); this value is skipped, reading goes on at line 8"
                ],
                "batch {batch}"
            );
            // Pretty-printed documents one after the other, one cut off.
            let text = "{\n  \"a\": 1\n}\n{\n  \"a\": {\"b\": 2\n}\n{\n  \"a\": 3\n}\n";
            let (records, errors) = read(text, batch, 1 << 20);
            assert_eq!(records.len(), 2, "batch {batch}");
            assert_eq!(records[1].0, 7, "batch {batch}");
            assert_eq!(
                errors,
                ["t.json:4:1: a value cut off by the end of input; this value is skipped, reading goes on at line 7"],
                "batch {batch}"
            );
        }
        // Nowhere to go on from: the document ends, the records before it kept.
        let (records, errors) = read("[{\"a\": 1}, {\"a\": 2", 4096, 1 << 20);
        assert_eq!(records.len(), 1);
        assert!(
            errors[0].contains("t.json:1:12: a value cut off by the end of input; the rest"),
            "{errors:?}"
        );
        let (records, errors) = read("[{\"a\": 1},", 4096, 1 << 20);
        assert_eq!(records.len(), 1);
        assert!(errors[0].contains("an array cut off"), "{errors:?}");
    }

    #[test]
    fn ndjson_with_its_first_line_cut_off_is_ndjson() {
        let text = "{\"a\": {\"b\": \n{\"a\": 1}\n{\"a\": 2}\n";
        let (records, errors) = read(text, 4096, 1 << 20);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(records.len(), 3, "{records:?}");
        assert_eq!(records[2], (3, "{\"a\": 2}".to_string()));
        // A pretty-printed document is still one.
        let (records, _) = read("{\n  \"a\": {\"b\": 1}\n}\n", 4096, 1 << 20);
        assert_eq!(records.len(), 1);
    }

    #[test]
    fn pretty_documents_after_a_one_line_value_are_documents() {
        let pretty = "{\n  \"a\": 1\n}\n{\n  \"a\": {\n    \"b\": 2\n  }\n}\n";
        for first in [
            "{}",
            "42",
            "not json",
            "{\"a\": tru}",
            "\u{1b}[31m{",
            "[1, 2}",
        ] {
            for batch in [1, 16, 4096] {
                let (records, errors) = read(&format!("{first}\n{pretty}"), batch, 1 << 20);
                let lines: Vec<u64> = records.iter().map(|(l, _)| *l).collect();
                // The first value is a record or an error of its own; the two documents
                // are read whole, at their lines.
                assert_eq!(
                    &lines[lines.len() - 2..],
                    [2, 5],
                    "{first:?}, batch {batch}: {records:?} {errors:?}"
                );
                assert!(
                    records[records.len() - 1].1.ends_with("}\n}"),
                    "{records:?}"
                );
            }
        }
    }

    #[test]
    fn arrays_blank_lines_and_a_bom_before_the_first_record() {
        let texts = |text: &str| -> Vec<(u64, String)> {
            let (records, errors) = read(text, 4096, 1 << 20);
            assert!(errors.is_empty(), "{text:?}: {errors:?}");
            records
        };
        let two = |r: Vec<(u64, String)>| r.into_iter().map(|(l, _)| l).collect::<Vec<_>>();
        // An array whose first line is `[` alone, or `[` with the first element.
        assert_eq!(two(texts("[\n{\"a\": 1},\n{\"a\": 2}\n]\n")), [2, 3]);
        assert_eq!(two(texts("[{\"a\": 1},\n {\"a\": 2}]\n")), [1, 2]);
        assert_eq!(two(texts("[{\n  \"a\": 1\n}, {\n  \"a\": 2\n}]\n")), [1, 3]);
        // Blank lines or a byte order mark first: the same records, at their lines.
        for head in ["\n\n", "\u{feff}", "\u{feff}\r\n", " \t\n"] {
            let blank = head.matches('\n').count() as u64;
            let ndjson = format!("{head}{{\"a\": 1}}\n{{\"a\": 2}}\n");
            assert_eq!(two(texts(&ndjson)), [blank + 1, blank + 2], "{head:?}");
            let pretty = format!("{head}{{\n  \"a\": 1\n}}\n{{\n  \"a\": 2\n}}\n");
            assert_eq!(two(texts(&pretty)), [blank + 1, blank + 4], "{head:?}");
            let array = format!("{head}[\n  {{\"a\": 1}},\n  {{\"a\": 2}}\n]\n");
            assert_eq!(two(texts(&array)), [blank + 2, blank + 3], "{head:?}");
        }
    }

    #[test]
    fn ndjson_with_a_broken_line_is_still_ndjson() {
        // A line cut off, a raw line break inside a string (after a first record, or
        // first: then read as a document, the broken value skipped alone): every whole
        // line is a record of its own, whatever follows.
        for text in [
            "{\"a\": 1}\n{\"a\": {\"b\": [\n{\"a\": 2}\n{\"a\": 3}\n",
            "{\"a\": 1}\n{\"p\": \"one\ntwo\"}\n{\"a\": 2}\n{\"a\": 3}\n",
            "{\"p\": \"one\ntwo\"}\n{\"a\": 1}\n{\"a\": 2}\n{\"a\": 3}\n",
        ] {
            let (records, errors) = read(text, 4096, 1 << 20);
            assert!(errors.len() <= 1, "{text:?}: {errors:?}");
            let good: Vec<&str> = records
                .iter()
                .map(|(_, t)| t.as_str())
                .filter(|t| t.starts_with("{\"a\": ") && t.ends_with('}'))
                .collect();
            assert_eq!(good.len(), 3, "{text:?}: {records:?}");
            let last = text.lines().count() as u64;
            assert_eq!(records.last().unwrap().0, last, "{text:?}: {records:?}");
        }
        // Larger than what is read first, nesting never closed by the lines after it.
        let mut text = String::from("{\"a\": {\"b\": [\n");
        for i in 0..2000 {
            text.push_str(&format!("{{\"a\": {i}}}\n"));
        }
        let opts = ReaderOptions {
            max_record_bytes: 1 << 20,
            batch_bytes: 4096,
        };
        let reader = Reader::from_read(
            "t.json",
            Box::new(std::io::Cursor::new(text.into_bytes())),
            opts,
        )
        .unwrap();
        let records: usize = reader.map(|b| b.unwrap().records.len()).sum();
        assert_eq!(records, 2001);
    }

    #[test]
    fn gzip_inflated_pretty_documents_are_read_in_bounded_batches() {
        // 40 MB of pretty-printed top-level documents (no array) from a small gzip, one
        // far too long among them: batches stay small, only the long one is lost.
        use std::io::Write as _;
        let doc = "{\n  \"event\": {\n    \"action\": \"x\"\n  },\n  \"pad\": \"0123456789\"\n}\n";
        let n = 40_000_000 / doc.len() / 1000 * 1000;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let chunk = doc.repeat(1000);
        for i in 0..n / 1000 {
            gz.write_all(chunk.as_bytes()).unwrap();
            if i == 7 {
                let long = format!("{{\n  \"pad\": \"{}\"\n}}\n", "y".repeat(3 << 20));
                gz.write_all(long.as_bytes()).unwrap();
            }
        }
        let bytes = gz.finish().unwrap();
        assert!(bytes.len() < 1 << 20, "{} bytes of gzip", bytes.len());
        let opts = ReaderOptions {
            max_record_bytes: 1 << 20,
            batch_bytes: 64 << 10,
        };
        let reader =
            Reader::from_read("docs.json.gz", Box::new(std::io::Cursor::new(bytes)), opts).unwrap();
        let (mut count, mut largest, mut errors) = (0, 0, Vec::new());
        for batch in reader {
            match batch {
                Ok(batch) => {
                    largest = largest.max(batch.data.len());
                    count += batch.records.len();
                }
                Err(e) => errors.push(e.to_string()),
            }
        }
        assert_eq!(count, n);
        assert!(largest < 256 << 10, "a batch of {largest} bytes");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("record longer than"), "{errors:?}");
    }

    #[test]
    fn a_document_is_read_in_bounded_batches() {
        // 50 MB of array in batches of about 64 KiB: no batch holds much more.
        let element = "{\"event\": {\"action\": \"x\"}, \"pad\": \"0123456789abcdef\"}";
        let n = 50_000_000 / element.len();
        let mut text = String::with_capacity(50_000_100);
        text.push_str("[\n");
        for i in 0..n {
            if i > 0 {
                text.push_str(",\n");
            }
            text.push_str(element);
        }
        text.push_str("\n]\n");
        let opts = ReaderOptions {
            max_record_bytes: 1 << 20,
            batch_bytes: 64 << 10,
        };
        let reader = Reader::from_read(
            "big.json",
            Box::new(std::io::Cursor::new(text.into_bytes())),
            opts,
        )
        .unwrap();
        let mut count = 0;
        let mut largest = 0;
        for batch in reader {
            let batch = batch.unwrap();
            largest = largest.max(batch.data.len());
            count += batch.records.len();
        }
        assert_eq!(count, n);
        assert!(largest < 256 << 10, "a batch of {largest} bytes");
    }
}
