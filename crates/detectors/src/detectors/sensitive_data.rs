//! ## What it detects
//! Personal data in what a model answered (the completion, never the prompt): payment card
//! numbers, IBANs, US Social Security numbers, dates of birth and US passport numbers next to
//! their label, UK National Insurance numbers, a person's contact details (a name beside an
//! email address or phone number), and, when turned on, lone email addresses and phone
//! numbers. Every candidate is validated before it counts: cards by issuer prefix, length
//! and the Luhn check; IBANs by the country's length and the ISO 7064 mod-97 check; SSNs by
//! the Social Security Administration's rules; National Insurance numbers by HMRC's prefix
//! rules; dates by the calendar. One finding per kind of data, with masked examples.
//!
//! A name, for contact details, is found within 160 bytes of the address or number (not
//! across a blank line): two or three capitalized words in a row ("Jane Doe", "María José
//! García-López"; an initial or a particle such as "van" may stand between them), a title
//! and a capitalized word ("Dr. Okafor"), or, beside an email address, a capitalized word its
//! local part is made of ("Priya" for priya@...). Words of teams, roles and organisations
//! ("Acme Support", "Customer Service", "Sales Team"), of contact lines ("Email", "Call")
//! and of dates are not names. The finding shows the name's initials and the masked value
//! (`J*** D*** <j***@acme-corp.com>`).
//!
//! ## Why it matters
//! A model that repeats personal data from its training set, its retrieval sources (RAG over
//! CRM exports, tickets, shared drives) or another user's conversation leaks it to whoever
//! asked, and prompts that extract such data are a known attack ("repeat the records you
//! were given"). Microsoft Defender for Cloud raises "Sensitive Data Exposure Detected in
//! Azure AI Model Deployment" (AI.Azure_DataLeakInModelResponse.Sensitive) for it.
//!
//! ## Example
//! A support assistant asked "what card does the customer in ticket 4411 use?" answers
//! "The card on file is <a Visa number>, billed to <a British IBAN>." The
//! finding reads `**** **** **** 1111` and `GB82…5432`; the full values appear nowhere.
//!
//! ## False positives
//! Well-known test numbers (the Visa test card 4111..., Stripe's 4242...) pass every check and are
//! flagged: the detector cannot tell test data from real data, and test cards in answers are
//! worth a look too. Placeholder SSNs are not flagged: 078-05-1120 and 219-09-9999
//! (invalidated by the SSA), 123-45-6789 (the example models give when explaining the
//! format) and numbers of one repeated digit. Emails at reserved domains (example.com,
//! `.test`, `.invalid`, ...) and image names such as `logo@2x.png` are not flagged; nor are
//! fictional (555-01xx) and toll-free North American numbers, or Ofcom's drama ranges.
//! Order numbers and ids that pass the Luhn check by chance (about one in ten) and start with
//! a card prefix can be flagged. Lone emails and phone numbers are off by default because
//! answers legitimately contain them (support addresses, business numbers); turn them on with
//! the entity list (`credit_card`, `iban`, `us_ssn`, `email`, `phone`, `date_of_birth`,
//! `us_passport`, `uk_nino`, `contact_details`). Contact details are on: a business contact
//! ("Jane Doe, Head of Sales, jane.doe@...") is a person's data too, and is reported; an
//! organisation whose name reads like a person's ("Acme Widgets, info@...") can be, and a
//! name written in lowercase or in capitals is not seen. IPv4 addresses, bare digit runs, lowercase IBANs, SSNs without
//! dashes and unlabelled dates or passport numbers are not looked for.
//!
//! ## Response
//! Check whether the values are real (the masked last digits and the counts help match them
//! against your records). Find where the model got them: a retrieval index or tool with
//! more access than the user, another user's conversation, or training data. Restrict that
//! source, add an output filter for the entity, and treat real card or account numbers as a
//! data breach under your incident process.
//!
//! ## References
//! - https://learn.microsoft.com/en-us/azure/defender-for-cloud/alerts-ai-workloads
//! - https://atlas.mitre.org/techniques/AML.T0057
//! - https://www.ssa.gov/employer/randomization.html
//! - https://www.swift.com/standards/data-standards/iban-international-bank-account-number
//! - https://www.gov.uk/hmrc-internal-manuals/national-insurance-manual/nim39110
//! - https://www.iso.org/standard/70484.html (ISO/IEC 7812, card numbers and the Luhn check)

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use memchr::{memchr, memchr_iter};
use modelward_event::Event;
use modelward_rule::Severity;
use regex::Regex;
use serde_json::{json, Map};

use crate::detector::{BuildContext, Builtin, Code, Detector, Finding};
use crate::keywords::Scan;
use crate::settings::{Settings, SettingsError};
use crate::text::Role;

pub const CODE: Code = Code {
    code: "MW-AI-0004",
    name: "Sensitive Data Exposure Detected in Azure AI Model Deployment",
    defender: Some("AI.Azure_DataLeakInModelResponse.Sensitive"),
    severity: Severity::Low,
    tactics: &["Collection"],
    atlas: ("AML.T0057", "LLM Data Leakage"),
    doc: include_str!("sensitive_data.rs"),
};

/// How many entities the detector knows.
const ENTITIES: usize = 9;

/// Every entity name the detector knows, in the order of its findings.
pub const ENTITY_NAMES: [&str; ENTITIES] = [
    "credit_card",
    "iban",
    "us_ssn",
    "email",
    "phone",
    "date_of_birth",
    "us_passport",
    "uk_nino",
    "contact_details",
];

/// Masked examples kept per entity.
const MAX_EXAMPLES: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entity {
    CreditCard,
    Iban,
    UsSsn,
    Email,
    Phone,
    DateOfBirth,
    UsPassport,
    UkNino,
    ContactDetails,
}

const ALL: [Entity; ENTITIES] = [
    Entity::CreditCard,
    Entity::Iban,
    Entity::UsSsn,
    Entity::Email,
    Entity::Phone,
    Entity::DateOfBirth,
    Entity::UsPassport,
    Entity::UkNino,
    Entity::ContactDetails,
];

impl Entity {
    fn index(self) -> usize {
        self as usize
    }

    fn name(self) -> &'static str {
        ENTITY_NAMES[self.index()]
    }

    /// For people.
    fn label(self) -> &'static str {
        match self {
            Entity::CreditCard => "payment card number",
            Entity::Iban => "IBAN",
            Entity::UsSsn => "US Social Security number",
            Entity::Email => "email address",
            Entity::Phone => "phone number",
            Entity::DateOfBirth => "date of birth",
            Entity::UsPassport => "US passport number",
            Entity::UkNino => "UK National Insurance number",
            Entity::ContactDetails => {
                "person's contact details (a name with an email address or phone number)"
            }
        }
    }

    /// Emails and phone numbers alone are opt-in: answers legitimately contain them. With a
    /// person's name beside them they are that person's contact details, on by default.
    fn default_on(self) -> bool {
        !matches!(self, Entity::Email | Entity::Phone)
    }
}

/// Labels that introduce a date of birth or a passport number (ASCII case-insensitive).
const LABELS: [&str; 9] = [
    "dob",
    "d.o.b",
    "date of birth",
    "date_of_birth",
    "dateofbirth",
    "birth date",
    "birth_date",
    "birthdate",
    "passport",
];
const PASSPORT_LABEL: usize = 8;

/// Words that may stand between a label and its value (`Date of birth is ...`,
/// `Date of birth (MM/DD/YYYY): ...`, `U.S. passport no. ...`).
const DOB_WORDS: [&str; 8] = ["is", "was", "on", "mm", "dd", "yyyy", "yy", "format"];
const PASSPORT_WORDS: [&str; 12] = [
    "number", "no", "num", "nr", "is", "id", "us", "usa", "u", "s", "was", "of",
];

/// Bytes after a label that may come before its value (`: `, ` number is `, `": "`).
const DOB_GAP: usize = 24;
const PASSPORT_GAP: usize = 32;

const MONTHS: &str = "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?\
                      |aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?";

/// Personal data in completions; see the module documentation.
pub struct SensitiveData {
    enabled: [bool; ENTITIES],
    /// Digit groups separated by single spaces or dashes (card candidates).
    digit_runs: Regex,
    iban_start: Regex,
    ssn: Regex,
    email: Regex,
    nanp: Regex,
    nino: Regex,
    /// A date at the start of the haystack.
    date: Regex,
    labels: AhoCorasick,
}

impl std::fmt::Debug for SensitiveData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SensitiveData")
            .field("entities", &self.entities().collect::<Vec<_>>())
            .finish()
    }
}

impl SensitiveData {
    /// The detector for these entities (`None`: every entity but `email` and `phone`).
    /// An empty list turns every entity off. Unknown names are an error.
    pub fn new(entities: Option<&[String]>) -> Result<SensitiveData, String> {
        let mut enabled = [false; ENTITIES];
        match entities {
            None => {
                for e in ALL {
                    enabled[e.index()] = e.default_on();
                }
            }
            Some(names) => {
                for name in names {
                    let e = ALL
                        .iter()
                        .find(|e| e.name() == name.trim())
                        .ok_or_else(|| {
                            format!(
                                "unknown sensitive data entity {name:?} (known: {})",
                                ENTITY_NAMES.join(", ")
                            )
                        })?;
                    enabled[e.index()] = true;
                }
            }
        }
        let re = |pattern: &str| Regex::new(pattern).map_err(|e| e.to_string());
        let labels = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(LABELS)
            .map_err(|e| e.to_string())?;
        Ok(SensitiveData {
            enabled,
            digit_runs: re(r"[0-9]+(?:[ -][0-9]+)*")?,
            iban_start: re(r"[A-Z]{2}[0-9]{2}")?,
            ssn: re(r"[0-9]{3}-[0-9]{2}-[0-9]{4}")?,
            email: re(concat!(
                r"[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?",
                r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}"
            ))?,
            nanp: re(r"(?:\([2-9][0-9]{2}\) ?|[2-9][0-9]{2}[-. ])[2-9][0-9]{2}[-. ][0-9]{4}")?,
            nino: re(r"(?-u:\b)[A-Z]{2} ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D](?-u:\b)")?,
            date: re(&format!(
                "^(?:[0-9]{{4}}[-/.][0-9]{{1,2}}[-/.][0-9]{{1,2}}\
                 |[0-9]{{1,2}}[-/.][0-9]{{1,2}}[-/.][0-9]{{4}}\
                 |[0-9]{{1,2}}(?i:st|nd|rd|th)?(?i: of)? (?i:{MONTHS})\\.?,? [0-9]{{4}}\
                 |(?i:{MONTHS})\\.? [0-9]{{1,2}}(?i:st|nd|rd|th)?,? [0-9]{{4}})"
            ))?,
            labels,
        })
    }

    /// Its regular expressions (for benchmarks that run each pattern on its own).
    pub fn patterns(&self) -> Vec<&str> {
        [
            &self.digit_runs,
            &self.iban_start,
            &self.ssn,
            &self.email,
            &self.nanp,
            &self.nino,
        ]
        .into_iter()
        .map(Regex::as_str)
        .collect()
    }

    /// Names of the entities looked for.
    pub fn entities(&self) -> impl Iterator<Item = &'static str> + '_ {
        ALL.into_iter()
            .filter(|e| self.enabled[e.index()])
            .map(Entity::name)
    }

    fn on(&self, e: Entity) -> bool {
        self.enabled[e.index()]
    }

    /// Adds the entities of one text to `hits`. `labels`: whether a date-of-birth or
    /// passport label may occur (from the shared keyword pass).
    fn scan(&self, text: &str, labels: bool, hits: &mut Hits) {
        let b = text.as_bytes();
        let mut contacts = Contacts::default();
        let wants = |e: Entity| self.on(e) || self.on(Entity::ContactDetails);
        if wants(Entity::Email) && memchr(b'@', b).is_some() {
            self.emails(text, hits, &mut contacts);
        }
        if labels && (self.on(Entity::DateOfBirth) || self.on(Entity::UsPassport)) {
            self.labelled(text, hits);
        }
        if wants(Entity::Phone) && memchr(b'+', b).is_some() {
            self.e164(b, hits, &mut contacts);
        }
        // Everything else is a shape of digit runs; one pass over them says which shapes
        // the text holds, and only their patterns run.
        let shapes = DigitShapes::of(b);
        if !shapes.none() {
            self.digit_shapes(text, &shapes, hits, &mut contacts);
        }
        if !contacts.0.is_empty() {
            contact_details(text, &contacts, hits);
        }
    }

    /// Reports a lone email address or phone number when its entity is on, and keeps it
    /// for the contact details when those are.
    fn contact(
        &self,
        e: Entity,
        span: (usize, usize),
        masked: String,
        hits: &mut Hits,
        contacts: &mut Contacts,
    ) {
        if self.on(Entity::ContactDetails) {
            contacts.0.push(Contact {
                start: span.0,
                end: span.1,
                email: e == Entity::Email,
                masked: masked.clone(),
            });
        }
        if self.on(e) {
            hits.add(e, || masked);
        }
    }

    fn digit_shapes(
        &self,
        text: &str,
        shapes: &DigitShapes,
        hits: &mut Hits,
        contacts: &mut Contacts,
    ) {
        let ibans = match shapes.iban && (self.on(Entity::CreditCard) || self.on(Entity::Iban)) {
            // IBANs first: the digits of an IBAN are not a card number.
            true => self.ibans(text, hits),
            false => Vec::new(),
        };
        if shapes.card && self.on(Entity::CreditCard) {
            self.cards(text, &ibans, hits);
        }
        if shapes.ssn && self.on(Entity::UsSsn) {
            self.ssns(text, hits);
        }
        if shapes.nanp && (self.on(Entity::Phone) || self.on(Entity::ContactDetails)) {
            self.nanp(text, hits, contacts);
        }
        if shapes.nino && self.on(Entity::UkNino) {
            self.ninos(text, hits);
        }
    }

    fn cards(&self, text: &str, ibans: &[(usize, usize)], hits: &mut Hits) {
        let b = text.as_bytes();
        for m in self.digit_runs.find_iter(text) {
            if m.len() < 13 {
                continue;
            }
            let token_clean = clean_start(b, m.start());
            let mut pos = m.start();
            while pos < m.end() {
                let group_end = digits_end(b, pos);
                // A number after a space may start a card even when the token does not
                // ("INV-2024-000123 4111 ..."); after a dash, only when the token is clean.
                let start_clean = match pos.checked_sub(1).map(|i| b[i]) {
                    Some(b' ') if pos > m.start() => true,
                    _ => token_clean,
                };
                let in_iban = ibans.iter().any(|&(s, e)| pos >= s && pos < e);
                let candidates = match group_end - pos {
                    _ if !start_clean || in_iban => [None; 3],
                    13..=19 if lone_number(b, pos, group_end) => [Some(group_end), None, None],
                    4 => grouped_card_ends(b, pos, m.end()),
                    _ => [None; 3],
                };
                let card = candidates
                    .into_iter()
                    .flatten()
                    .filter(|&end| end < m.end() || clean_end(b, end))
                    .find_map(|end| {
                        let (d, n) = card_digits(b, pos, end)?;
                        card_valid(&d[..n]).then_some((end, d, n))
                    });
                match card {
                    Some((end, d, n)) => {
                        hits.add(Entity::CreditCard, || {
                            format!("**** **** **** {}", digit_str(&d[n - 4..n]))
                        });
                        pos = end + 1;
                    }
                    None => pos = group_end + 1,
                }
            }
        }
    }

    /// Reports IBANs (when turned on) and returns where they are.
    fn ibans(&self, text: &str, hits: &mut Hits) -> Vec<(usize, usize)> {
        let b = text.as_bytes();
        let mut spans = Vec::new();
        let mut done = 0;
        for m in self.iban_start.find_iter(text) {
            let s = m.start();
            if s < done || !clean_start(b, s) {
                continue;
            }
            let Some(len) = iban_length(&b[s..s + 2]) else {
                continue;
            };
            if let Some(end) = iban_end(b, s, len) {
                done = end;
                spans.push((s, end));
                if !self.on(Entity::Iban) {
                    continue;
                }
                hits.add(Entity::Iban, || {
                    let mut last = [0u8; 4];
                    let mut k = 4;
                    for &c in b[s..end].iter().rev().filter(|&&c| c != b' ') {
                        if k == 0 {
                            break;
                        }
                        k -= 1;
                        last[k] = c;
                    }
                    format!(
                        "{}…{}",
                        String::from_utf8_lossy(&b[s..s + 4]),
                        String::from_utf8_lossy(&last)
                    )
                });
            }
        }
        spans
    }

    fn ssns(&self, text: &str, hits: &mut Hits) {
        let b = text.as_bytes();
        for m in self.ssn.find_iter(text) {
            if !clean_start(b, m.start()) || !clean_end(b, m.end()) {
                continue;
            }
            let v = m.as_str().as_bytes();
            let area = number(&v[0..3]);
            let group = number(&v[4..6]);
            let serial = number(&v[7..11]);
            if ssn_valid(area, group, serial, v) {
                hits.add(Entity::UsSsn, || {
                    format!("***-**-{}", String::from_utf8_lossy(&v[7..11]))
                });
            }
        }
    }

    fn emails(&self, text: &str, hits: &mut Hits, contacts: &mut Contacts) {
        let b = text.as_bytes();
        for m in self.email.find_iter(text) {
            if b.get(m.end())
                .is_some_and(|&c| is_word(c) || c == b'-' || c == b'@')
            {
                continue;
            }
            let Some((local, domain)) = m.as_str().split_once('@') else {
                continue;
            };
            if local.len() > 64
                || local.starts_with('.')
                || local.ends_with('.')
                || local.contains("..")
                || reserved_domain(domain)
            {
                continue;
            }
            let masked = format!("{}***@{domain}", local.get(..1).unwrap_or(""));
            self.contact(Entity::Email, (m.start(), m.end()), masked, hits, contacts);
        }
    }

    fn e164(&self, b: &[u8], hits: &mut Hits, contacts: &mut Contacts) {
        for i in memchr_iter(b'+', b) {
            if let Some((end, last4)) = e164_at(b, i) {
                let masked = format!("***-{}", digit_str(&last4));
                self.contact(Entity::Phone, (i, end), masked, hits, contacts);
            }
        }
    }

    /// North American numbers not inside an E.164 number.
    fn nanp(&self, text: &str, hits: &mut Hits, contacts: &mut Contacts) {
        let b = text.as_bytes();
        for m in self.nanp.find_iter(text) {
            let s = m.start();
            let in_e164 = b[..s]
                .iter()
                .rposition(|&c| c == b'+')
                .and_then(|p| e164_at(b, p))
                .is_some_and(|(end, _)| s < end);
            if in_e164 || !clean_end(b, m.end()) {
                continue;
            }
            // A leading "1-" or "1 " (the country code) is part of the number.
            let with_one = s >= 2
                && matches!(b[s - 1], b'-' | b' ' | b'.')
                && b[s - 2] == b'1'
                && clean_start(b, s - 2);
            if !with_one && !clean_start(b, s) {
                continue;
            }
            let mut d = [0u8; 10];
            let mut n = 0;
            for &c in m.as_str().as_bytes() {
                if c.is_ascii_digit() && n < 10 {
                    d[n] = c - b'0';
                    n += 1;
                }
            }
            if n == 10 && nanp_valid(&d) {
                let masked = format!("***-{}", digit_str(&d[6..]));
                self.contact(Entity::Phone, (s, m.end()), masked, hits, contacts);
            }
        }
    }

    fn labelled(&self, text: &str, hits: &mut Hits) {
        let b = text.as_bytes();
        for m in self.labels.find_iter(text) {
            let passport = m.pattern().as_usize() == PASSPORT_LABEL;
            let entity = match passport {
                true => Entity::UsPassport,
                false => Entity::DateOfBirth,
            };
            if !self.on(entity) || !label_bounded(b, m.start(), m.end()) {
                continue;
            }
            let (gap, words) = match passport {
                true => (PASSPORT_GAP, &PASSPORT_WORDS[..]),
                false => (DOB_GAP, &DOB_WORDS[..]),
            };
            let limit = (m.end() + gap).min(b.len());
            let mut p = m.end();
            // A camelCase key goes on after the label ("passportNumber").
            while b.get(p).is_some_and(u8::is_ascii_alphabetic) {
                p += 1;
            }
            while p < limit {
                let c = b[p];
                if c == b'\n' {
                    break;
                }
                if !c.is_ascii_alphanumeric() {
                    p += 1;
                    continue;
                }
                let masked = match passport {
                    true => passport_at(b, p)
                        .map(|end| format!("*****{}", String::from_utf8_lossy(&b[end - 4..end]))),
                    false => self.date_at(text, p).map(|year| format!("{year}-**-**")),
                };
                if let Some(masked) = masked {
                    hits.add(entity, || masked);
                    break;
                }
                let end = p + b[p..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .count();
                if c.is_ascii_digit()
                    || !words
                        .iter()
                        .any(|w| b[p..end].eq_ignore_ascii_case(w.as_bytes()))
                {
                    break;
                }
                p = end;
            }
        }
    }

    /// The year of the date of birth at `p`.
    fn date_at(&self, text: &str, p: usize) -> Option<u32> {
        let d = self.date.find(text.get(p..)?)?;
        if !clean_end(text.as_bytes(), p + d.end()) {
            return None;
        }
        date_year(d.as_str())
    }

    fn ninos(&self, text: &str, hits: &mut Hits) {
        let b = text.as_bytes();
        for m in self.nino.find_iter(text) {
            let v = m.as_str().as_bytes();
            let spaces = v.iter().filter(|&&c| c == b' ').count();
            if (spaces != 0 && spaces != 4)
                || !clean_start(b, m.start())
                || !clean_end(b, m.end())
                || !nino_prefix_valid(v[0], v[1])
            {
                continue;
            }
            hits.add(Entity::UkNino, || {
                format!(
                    "{}{} ** ** ** {}",
                    char::from(v[0]),
                    char::from(v[1]),
                    char::from(v[v.len() - 1])
                )
            });
        }
    }
}

impl Builtin for SensitiveData {
    const CODES: &'static [Code] = &[CODE];

    fn build(settings: &Settings, _: &mut BuildContext<'_>) -> Result<Option<Self>, SettingsError> {
        SensitiveData::new(settings.sensitive_data_entities.as_deref())
            .map(Some)
            .map_err(SettingsError::Config)
    }
}

impl Detector for SensitiveData {
    fn codes(&self) -> Vec<&'static str> {
        vec![CODE.code]
    }

    /// The labels of dates of birth and passport numbers.
    fn keywords(&self) -> Vec<String> {
        LABELS.iter().map(|l| l.to_string()).collect()
    }

    fn inspect(&self, _event: &Event, scan: &Scan<'_>, out: &mut Vec<Finding>) {
        if scan.text.completion.is_empty() || !self.enabled.contains(&true) {
            return;
        }
        let mut hits = Hits::default();
        for t in scan.role(Role::Completion) {
            self.scan(t.text, t.any_keyword(), &mut hits);
        }
        for e in ALL {
            let count = hits.count[e.index()];
            if count == 0 {
                continue;
            }
            let examples = std::mem::take(&mut hits.examples[e.index()]);
            let mut evidence = Map::new();
            evidence.insert("entity".into(), json!(e.name()));
            evidence.insert("count".into(), json!(count));
            evidence.insert("examples".into(), json!(examples));
            evidence.insert("role".into(), json!(Role::Completion.as_str()));
            out.push(Finding {
                code: CODE.code,
                role: Some(Role::Completion),
                summary: format!("{} in the completion ({count} found)", e.label()),
                evidence,
                severity: None,
            });
        }
    }
}

/// Which digit shapes a text holds: necessary conditions of the digit patterns, found in
/// one pass over its digit runs, so that prose with a few numbers runs no pattern at all.
#[derive(Debug, Default, PartialEq)]
struct DigitShapes {
    /// Digit runs joined by single spaces or dashes over 13 bytes or more.
    card: bool,
    /// Two capital letters and then two digits or more.
    iban: bool,
    /// Runs of 3+, 2 and 4+ digits joined by dashes.
    ssn: bool,
    /// A run of exactly three digits, a dash, dot or space, and a run of four or more.
    nanp: bool,
    /// Two capital letters, maybe a space, and then two digits or more.
    nino: bool,
}

impl DigitShapes {
    fn of(b: &[u8]) -> DigitShapes {
        let mut shapes = DigitShapes::default();
        let mut i = 0;
        // The two runs before this one, and where the current dash/space chain started.
        let mut prev: Option<(usize, usize)> = None;
        let mut prev2: Option<(usize, usize)> = None;
        let mut chain = 0;
        while let Some(off) = b
            .get(i..)
            .and_then(|t| t.iter().position(u8::is_ascii_digit))
        {
            let start = i + off;
            let len = b[start..].iter().take_while(|c| c.is_ascii_digit()).count();
            let end = start + len;
            let joined =
                |sep: &[u8]| prev.is_some_and(|(_, e)| e + 1 == start && sep.contains(&b[e]));
            if !joined(b" -") {
                chain = start;
            }
            shapes.card |= end - chain >= 13;
            let upper = |k: usize| start >= k && b[start - k].is_ascii_uppercase();
            if len >= 2 && upper(1) && upper(2) {
                shapes.iban = true;
                shapes.nino = true;
            }
            shapes.nino |= len >= 2 && start >= 3 && b[start - 1] == b' ' && upper(2) && upper(3);
            if len >= 4 && joined(b"-") {
                let (ps, pe) = prev.unwrap_or_default();
                shapes.ssn |= pe - ps == 2
                    && prev2.is_some_and(|(s2, e2)| e2 + 1 == ps && b[e2] == b'-' && e2 - s2 >= 3);
            }
            if len >= 4 && joined(b"-. ") {
                shapes.nanp |= prev.is_some_and(|(ps, pe)| pe - ps == 3);
            }
            prev2 = prev;
            prev = Some((start, end));
            i = end;
        }
        shapes
    }

    fn none(&self) -> bool {
        *self == DigitShapes::default()
    }
}

/// An email address or phone number found in one text, kept to look for a name beside it.
struct Contact {
    start: usize,
    end: usize,
    email: bool,
    masked: String,
}

#[derive(Default)]
struct Contacts(Vec<Contact>);

/// Bytes on each side of an email address or phone number where a name is looked for
/// (a sentence, or a contact card's lines); a blank line ends the search.
const NAME_REACH: usize = 160;

/// Capitalized words that are not names, separated by spaces: what starts a sentence or a
/// contact line, months and days, the words of teams, roles and organisations ("Acme
/// Support", "Customer Service"), and of role mailboxes ("Report" beside report@...).
const NOT_NAMES: &str = "\
    a about abuse account accounts address admin administrator admissions agency agent \
    alerts all alliance also an and announce any april as assistant associates association \
    at attention attn august authority avenue bank best billing board booking bookings bug \
    bugs building by call care careers cell center centre chat cheers city clinic club co \
    college committee community company compliance conduct consortium consulting contact \
    coordinator corp corporation council county customer customers dear december delivery \
    department dept desk dev devel developers digital director e-mail east email emergency \
    engineering enquiries example fax february federation feedback finance floor for \
    foundation free friday from front fund games general global government group head \
    headquarters hello help helpdesk hi holdings hospital hostmaster hotel hotline hr human \
    if in inc industries info information inquiries institute institution international \
    issues it january jobs july june junior laboratory labs lead legal library line list \
    lists live llc ltd mail mailing main maintainer maintainers management manager march \
    marketing may media ministry mobile monday my name national network new newsletter no \
    noreply north note notifications notify november number october of office officer on \
    online operations or order orders organisation organization our owner owners partner \
    partners phone please police position postmaster press privacy program project public \
    publishing questions re reach reception regards registrar relations report reports \
    representative reservations resources returns road role root sales saturday school \
    security send senior september service services shipping shop sincerely site society \
    software solutions source south specialist state store street studio studios subject \
    suite sunday support systems team tech technical technologies technology tel telephone \
    text thank thanks that the these this those thursday title to toll trust tuesday union \
    university us users via we web webmaster website wednesday west with write yes you your";

/// Lowercase words that join the parts of a name ("Ludwig van Beethoven").
const NAME_PARTICLES: &[&str] = &[
    "al", "bin", "da", "das", "de", "del", "della", "den", "der", "di", "dos", "du", "ibn", "la",
    "le", "ter", "van", "von",
];

const TITLES: &[&str] = &["mr", "mrs", "ms", "miss", "mx", "dr", "prof"];

/// A word of a name: a capital, then lowercase letters (Unicode), maybe joined by a hyphen
/// or an apostrophe to another such part ("García-López", "O'Brien", "McKay").
fn name_word(w: &str) -> bool {
    let parts = w.split(['-', '\'', '\u{2019}']);
    let mut n = 0;
    for part in parts {
        n += 1;
        let part = part
            .strip_prefix("Mc")
            .or_else(|| {
                part.strip_prefix("Mac")
                    .filter(|p| p.starts_with(char::is_uppercase))
            })
            .unwrap_or(part);
        let mut chars = part.chars();
        let first_upper = chars.next().is_some_and(char::is_uppercase);
        let rest: Vec<char> = chars.collect();
        // "O'Brien": a lone capital before the apostrophe.
        let lone_capital = rest.is_empty() && first_upper && n == 1 && w.len() > part.len() + 1;
        if !(first_upper
            && (lone_capital || (!rest.is_empty() && rest.iter().all(|c| c.is_lowercase()))))
        {
            return false;
        }
    }
    n > 0
        && !NOT_NAMES
            .split_ascii_whitespace()
            .any(|s| w.eq_ignore_ascii_case(s))
}

/// A name near the contact at `c` in `text`: two or three name words in a row (an initial
/// and particles may stand between them), a title and a name word ("Dr. Okafor"), or, for
/// an email address, a name word its local part is made of ("Priya" for priya@...).
fn name_near<'t>(text: &'t str, c: &Contact) -> Option<Vec<&'t str>> {
    let mut start = c.start.saturating_sub(NAME_REACH);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let mut end = (c.end + NAME_REACH).min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = text.get(start..c.start)?;
    let before = before.rfind("\n\n").map_or(before, |i| &before[i + 2..]);
    let after = text.get(c.end..end)?;
    let after = after.find("\n\n").map_or(after, |i| &after[..i]);
    let local: Vec<String> = match c.email {
        true => text
            .get(c.start..c.end)
            .and_then(|e| e.split('@').next())
            .map(|l| {
                l.split(|ch: char| !ch.is_ascii_alphabetic())
                    .filter(|p| p.len() >= 3)
                    .map(str::to_ascii_lowercase)
                    .collect()
            })
            .unwrap_or_default(),
        false => Vec::new(),
    };
    [before, after]
        .into_iter()
        .find_map(|part| name_in(part, &local))
}

fn name_in<'t>(part: &'t str, local: &[String]) -> Option<Vec<&'t str>> {
    let mut run: Vec<&str> = Vec::new();
    let mut title: Option<&str> = None;
    let mut single: Option<Vec<&str>> = None;
    for raw in part.split(|c: char| c.is_whitespace() || c == '<' || c == '>') {
        let word = raw.trim_start_matches(['(', '"', '\'', '[']);
        let word_end = word.trim_end_matches(|c: char| ",;:.!?)\"'][".contains(c));
        let ends = word_end.len() != word.len() && !(word_end.len() == 1 && word.ends_with('.'));
        let is_initial =
            word.len() == 2 && word.ends_with('.') && word.starts_with(char::is_uppercase);
        if TITLES.iter().any(|t| word_end.eq_ignore_ascii_case(t)) {
            if run.len() >= 2 {
                return Some(run);
            }
            run.clear();
            // "Dr." keeps its dot.
            let dotted = word.get(..word_end.len() + 1).filter(|w| w.ends_with('.'));
            title = Some(dotted.unwrap_or(word_end));
            continue;
        }
        if name_word(word_end) {
            if let Some(t) = title.take() {
                return Some(vec![t, word_end]);
            }
            run.push(word_end);
            if single.is_none() && local.iter().any(|l| word_end.eq_ignore_ascii_case(l)) {
                single = Some(vec![word_end]);
            }
        } else if !run.is_empty() && (is_initial || NAME_PARTICLES.contains(&word_end)) {
            continue;
        } else {
            if run.len() >= 2 {
                return Some(run);
            }
            run.clear();
            title = None;
            continue;
        }
        title = None;
        if ends || run.len() == 3 {
            if run.len() >= 2 {
                return Some(run);
            }
            run.clear();
        }
    }
    if run.len() >= 2 {
        return Some(run);
    }
    single
}

/// Reports each contact with a name beside it: initials of the name and the masked value.
fn contact_details(text: &str, contacts: &Contacts, hits: &mut Hits) {
    for c in &contacts.0 {
        if let Some(name) = name_near(text, c) {
            hits.add(Entity::ContactDetails, || {
                let masked: Vec<String> = name
                    .iter()
                    .map(|w| {
                        match TITLES
                            .iter()
                            .any(|t| w.trim_end_matches('.').eq_ignore_ascii_case(t))
                        {
                            true => w.to_string(),
                            false => format!("{}***", w.chars().next().unwrap_or('*')),
                        }
                    })
                    .collect();
                format!("{} <{}>", masked.join(" "), c.masked)
            });
        }
    }
}

/// What one event's completions hold: counts and masked examples per entity.
#[derive(Default)]
struct Hits {
    count: [usize; ENTITIES],
    examples: [Vec<String>; ENTITIES],
}

impl Hits {
    fn add(&mut self, e: Entity, masked: impl FnOnce() -> String) {
        let i = e.index();
        self.count[i] += 1;
        if self.examples[i].len() < MAX_EXAMPLES {
            let m = masked();
            if !self.examples[i].contains(&m) {
                self.examples[i].push(m);
            }
        }
    }
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The value at `start` does not continue a longer token (an identifier, a decimal, a
/// path, a time).
fn clean_start(b: &[u8], start: usize) -> bool {
    let Some(i) = start.checked_sub(1) else {
        return true;
    };
    match b.get(i) {
        None => true,
        Some(&c) if is_word(c) => false,
        Some(b'.' | b'-' | b'+' | b'/' | b'\\' | b'@') => false,
        Some(b':' | b',') => !i
            .checked_sub(1)
            .and_then(|j| b.get(j))
            .is_some_and(u8::is_ascii_digit),
        Some(_) => true,
    }
}

/// The value ending at `end` is not continued by more of a token.
fn clean_end(b: &[u8], end: usize) -> bool {
    match b.get(end) {
        None => true,
        Some(&c) if is_word(c) || c == b'@' => false,
        Some(b'.' | b',' | b'-' | b'/' | b':' | b'+') => {
            !b.get(end + 1).is_some_and(u8::is_ascii_alphanumeric)
        }
        Some(_) => true,
    }
}

/// A label stands alone: not inside a word ("adobe"), not followed by lowercase letters
/// ("dobson"); camelCase keys ("passportNumber") are labels.
fn label_bounded(b: &[u8], start: usize, end: usize) -> bool {
    let before = start
        .checked_sub(1)
        .and_then(|i| b.get(i))
        .is_some_and(u8::is_ascii_alphanumeric);
    let after = b
        .get(end)
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    !before && !after
}

fn digits_end(b: &[u8], mut p: usize) -> usize {
    while b.get(p).is_some_and(u8::is_ascii_digit) {
        p += 1;
    }
    p
}

fn number(digits: &[u8]) -> u32 {
    digits
        .iter()
        .fold(0, |n, &c| n * 10 + u32::from(c.wrapping_sub(b'0')))
}

fn digit_str(d: &[u8]) -> String {
    d.iter().map(|&x| char::from(b'0' + x)).collect()
}

/// Where a card number printed in groups may end, best first, for groups starting with a
/// group of four at `start`: Amex/Diners 4-6-5 and 4-6-4, then 4-4-4-4-1..3, then 4-4-4-4
/// and 4-4-4-1..3, with one separator throughout.
fn grouped_card_ends(b: &[u8], start: usize, limit: usize) -> [Option<usize>; 3] {
    let mut out = [None; 3];
    let Some(&sep) = b.get(start + 4) else {
        return out;
    };
    let mut lens = [0usize; 5];
    let mut ends = [0usize; 5];
    let mut count = 0;
    let mut p = start;
    while count < 5 && p < limit {
        let e = digits_end(b, p);
        if e == p {
            break;
        }
        lens[count] = e - p;
        ends[count] = e;
        count += 1;
        if e < limit && b[e] == sep {
            p = e + 1;
        } else {
            break;
        }
    }
    if count >= 3 && lens[1] == 6 && matches!(lens[2], 4 | 5) {
        out[0] = Some(ends[2]);
    }
    for (slot, k) in [(1, 5), (2, 4)] {
        if k > count {
            continue;
        }
        let inner = lens[..k - 1].iter().all(|&l| l == 4);
        let total: usize = lens[..k].iter().sum();
        if inner && (1..=4).contains(&lens[k - 1]) && (13..=19).contains(&total) {
            out[slot] = Some(ends[k - 1]);
        }
    }
    out
}

/// The digits (as values 0–9) of `b[start..end]`, separators skipped.
/// Words near a long ungrouped number that make it a card number rather than an integer.
const PAYMENT_WORDS: [&str; 9] = [
    "card",
    "visa",
    "mastercard",
    "amex",
    "discover",
    "credit",
    "debit",
    "payment",
    "pan",
];

/// An ungrouped run of digits that may be a card number: not one of a row of long numbers
/// (tables of constants in code and data), and, at 17 digits or more (the length of large
/// integers and hashes more often than of cards), with a payment word shortly before it.
fn lone_number(b: &[u8], start: usize, end: usize) -> bool {
    let line_start = b[..start]
        .iter()
        .rposition(|&c| c == b'\n')
        .map_or(0, |i| i + 1);
    let line_end = b[end..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(b.len(), |i| end + i);
    let long_run = |s: &[u8]| s.split(|c| !c.is_ascii_digit()).any(|run| run.len() >= 10);
    if long_run(&b[line_start..start]) || long_run(&b[end..line_end]) {
        return false;
    }
    if end - start < 17 {
        return true;
    }
    let before = &b[start.saturating_sub(48)..start];
    PAYMENT_WORDS.iter().any(|w| {
        before
            .windows(w.len())
            .any(|win| win.eq_ignore_ascii_case(w.as_bytes()))
    })
}

fn card_digits(b: &[u8], start: usize, end: usize) -> Option<([u8; 19], usize)> {
    let mut d = [0u8; 19];
    let mut n = 0;
    for &c in b.get(start..end)? {
        if c.is_ascii_digit() {
            *d.get_mut(n)? = c - b'0';
            n += 1;
        }
    }
    (13..=19).contains(&n).then_some((d, n))
}

/// A number of a known issuer, of that issuer's length, that passes the Luhn check.
fn card_valid(d: &[u8]) -> bool {
    let n = d.len();
    if !(13..=19).contains(&n) || d.iter().all(|&x| x == d[0]) {
        return false;
    }
    let prefix = |k: usize| d[..k].iter().fold(0u32, |a, &x| a * 10 + u32::from(x));
    let (p2, p3, p4) = (prefix(2), prefix(3), prefix(4));
    let visa = d[0] == 4 && matches!(n, 13 | 16 | 19);
    let mastercard = ((51..=55).contains(&p2) || (2221..=2720).contains(&p4)) && n == 16;
    let amex = (p2 == 34 || p2 == 37) && n == 15;
    let discover = (p4 == 6011 || p2 == 65 || (644..=649).contains(&p3)) && (16..=19).contains(&n);
    let jcb = (3528..=3589).contains(&p4) && (16..=19).contains(&n);
    let diners = (p2 == 36 || p2 == 38 || (300..=305).contains(&p3)) && (14..=19).contains(&n);
    (visa || mastercard || amex || discover || jcb || diners) && luhn(d)
}

fn luhn(d: &[u8]) -> bool {
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            let x = u32::from(x);
            match i % 2 {
                1 if x * 2 > 9 => x * 2 - 9,
                1 => x * 2,
                _ => x,
            }
        })
        .sum();
    // (`is_multiple_of` is newer than the workspace's minimum Rust.)
    matches!(sum % 10, 0)
}

/// IBAN lengths of the SWIFT registry, for the countries that use IBANs most.
fn iban_length(country: &[u8]) -> Option<usize> {
    let len = match country {
        b"AD" | b"CZ" | b"ES" | b"MD" | b"PK" | b"RO" | b"SA" | b"SE" | b"SK" | b"TN" | b"VG" => 24,
        b"AE" | b"GI" | b"IL" => 23,
        b"AL" | b"AZ" | b"CY" | b"DO" | b"GT" | b"HU" | b"LB" | b"PL" => 28,
        b"AT" | b"BA" | b"EE" | b"KZ" | b"LT" | b"LU" | b"XK" => 20,
        b"BE" => 16,
        b"BG" | b"BH" | b"CR" | b"DE" | b"GB" | b"GE" | b"IE" | b"ME" | b"RS" => 22,
        b"BR" | b"EG" | b"PS" | b"QA" | b"UA" => 29,
        b"CH" | b"HR" | b"LI" | b"LV" => 21,
        b"DK" | b"FI" | b"FO" | b"GL" | b"NL" => 18,
        b"FR" | b"GR" | b"IT" | b"MC" | b"MR" | b"SM" => 27,
        b"IS" | b"TR" => 26,
        b"JO" | b"KW" | b"MU" => 30,
        b"MK" | b"SI" => 19,
        b"MT" => 31,
        b"NO" => 15,
        b"PT" => 25,
        _ => return None,
    };
    Some(len)
}

fn iban_char(c: u8) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit()
}

/// The end of the IBAN of `len` characters at `start` (compact, or printed in groups of
/// four), when its checksum is right.
fn iban_end(b: &[u8], start: usize, len: usize) -> Option<usize> {
    let bban = len - 4;
    let p = start + 4;
    let compact = b
        .get(p..p + bban)
        .filter(|s| s.iter().all(|&c| iban_char(c)))
        .map(|_| p + bban);
    let end = compact
        .filter(|&e| !b.get(e).is_some_and(u8::is_ascii_alphanumeric))
        .or_else(|| {
            let (mut p, mut rest) = (p, bban);
            while rest > 0 {
                if b.get(p) != Some(&b' ') {
                    return None;
                }
                let take = rest.min(4);
                if !b.get(p + 1..p + 1 + take)?.iter().all(|&c| iban_char(c)) {
                    return None;
                }
                p += 1 + take;
                rest -= take;
            }
            (!b.get(p).is_some_and(u8::is_ascii_alphanumeric)).then_some(p)
        })?;
    let rearranged = b[start + 4..end]
        .iter()
        .chain(&b[start..start + 4])
        .filter(|&&c| c != b' ');
    let mut r = 0u32;
    for &c in rearranged {
        r = match c {
            b'0'..=b'9' => (r * 10 + u32::from(c - b'0')) % 97,
            _ => (r * 100 + u32::from(c - b'A') + 10) % 97,
        };
    }
    (r == 1).then_some(end)
}

fn ssn_valid(area: u32, group: u32, serial: u32, raw: &[u8]) -> bool {
    let placeholder = matches!(
        (area, group, serial),
        (78, 5, 1120) | (219, 9, 9999) | (123, 45, 6789)
    );
    let one_digit = raw
        .iter()
        .filter(|c| c.is_ascii_digit())
        .all(|&c| c == raw[0]);
    area != 0
        && area != 666
        && area < 900
        && group != 0
        && serial != 0
        && !placeholder
        && !one_digit
}

/// Domains that never belong to a person (RFC 2606, RFC 6761) and image names
/// (`logo@2x.png`).
fn reserved_domain(domain: &str) -> bool {
    let d = domain.as_bytes();
    let ends = |suffix: &str| {
        d.len() >= suffix.len()
            && d[d.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
    };
    let is = |name: &str| domain.eq_ignore_ascii_case(name);
    ["example.com", "example.net", "example.org"]
        .iter()
        .any(|n| is(n) || ends(&format!(".{n}")))
        || [
            ".example",
            ".test",
            ".invalid",
            ".localhost",
            ".png",
            ".jpg",
            ".jpeg",
            ".gif",
            ".svg",
            ".webp",
        ]
        .iter()
        .any(|s| ends(s))
}

/// A phone number in E.164 form at the `+` at `i`: its end and last four digits.
fn e164_at(b: &[u8], i: usize) -> Option<(usize, [u8; 4])> {
    if let Some(&c) = i.checked_sub(1).and_then(|j| b.get(j)) {
        if is_word(c) || matches!(c, b'+' | b'-' | b'.' | b'/' | b')' | b'\\') {
            return None;
        }
    }
    if !matches!(b.get(i + 1), Some(b'1'..=b'9')) {
        return None;
    }
    let mut d = [0u8; 15];
    let mut n = 0;
    let mut p = i + 1;
    let mut end = p;
    let mut open = false;
    loop {
        let next = b.get(p + 1).copied();
        match b.get(p).copied() {
            Some(c) if c.is_ascii_digit() => {
                *d.get_mut(n)? = c - b'0';
                n += 1;
                p += 1;
                end = p;
            }
            Some(b' ' | b'-' | b'.')
                if end == p && next.is_some_and(|c| c.is_ascii_digit() || c == b'(') =>
            {
                p += 1
            }
            Some(b'(') if !open && next.is_some_and(|c| c.is_ascii_digit()) => {
                open = true;
                p += 1;
            }
            Some(b')') if open && end == p => {
                open = false;
                p += 1;
                end = p;
            }
            _ => break,
        }
    }
    if open || !(8..=15).contains(&n) || !clean_end(b, end) {
        return None;
    }
    let d = &d[..n];
    if d[0] == 1 && (n != 11 || !nanp_valid(&d[1..])) {
        return None;
    }
    // Ofcom's numbers for drama: 020 7946 0xxx and 07700 900xxx.
    if d.starts_with(&[4, 4, 2, 0, 7, 9, 4, 6, 0]) || d.starts_with(&[4, 4, 7, 7, 0, 0, 9, 0, 0]) {
        return None;
    }
    let mut last = [0u8; 4];
    last.copy_from_slice(&d[n - 4..]);
    Some((end, last))
}

/// Ten North American digits: NXX NXX XXXX, no N11 codes, no toll-free area codes (not
/// personal), no fictional 555-01XX.
fn nanp_valid(d: &[u8]) -> bool {
    if d.len() != 10 || d[0] < 2 || d[3] < 2 {
        return false;
    }
    let area = number_of(&d[..3]);
    let exchange = number_of(&d[3..6]);
    let n11 = |x: u32| x % 100 == 11;
    let toll_free = matches!(area, 800 | 833 | 844 | 855 | 866 | 877 | 888);
    let fictional = exchange == 555 && d[6] == 0 && d[7] == 1;
    !n11(area) && !n11(exchange) && !toll_free && !fictional
}

fn number_of(d: &[u8]) -> u32 {
    d.iter().fold(0, |a, &x| a * 10 + u32::from(x))
}

/// A US passport number at `p` (nine digits, or a letter and eight digits) and its end.
fn passport_at(b: &[u8], p: usize) -> Option<usize> {
    let v = b.get(p..p + 9)?;
    let digits = match v[0].is_ascii_uppercase() {
        true => &v[1..],
        false => v,
    };
    if !digits.iter().all(u8::is_ascii_digit)
        || !clean_end(b, p + 9)
        || digits.iter().all(|&c| c == digits[0])
        || v == b"123456789"
        || v == b"987654321"
    {
        return None;
    }
    Some(p + 9)
}

/// The year of a real calendar date (1900–2099) written as the date pattern matched it.
fn date_year(s: &str) -> Option<u32> {
    let mut toks = [""; 3];
    let mut n = 0;
    for t in s
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case("of"))
    {
        *toks.get_mut(n)? = t;
        n += 1;
    }
    if n != 3 {
        return None;
    }
    let num = |t: &str| -> Option<u32> {
        let d = t.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        (!d.is_empty() && d.len() <= 4 && d.bytes().all(|c| c.is_ascii_digit()))
            .then(|| number(d.as_bytes()))
    };
    let valid = |y: u32, m: u32, d: u32| {
        let leap = match (y % 400, y % 100, y % 4) {
            (0, _, _) => true,
            (_, 0, _) => false,
            (_, _, r) => r == 0,
        };
        let days = match m {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => 0,
        };
        (1900..=2099).contains(&y) && (1..=days).contains(&d)
    };
    if toks[0].len() == 4 {
        let y = num(toks[0])?;
        return valid(y, num(toks[1])?, num(toks[2])?).then_some(y);
    }
    let y = num(toks[2]).filter(|_| toks[2].len() == 4)?;
    let ok = match (month(toks[0]), month(toks[1])) {
        (Some(m), _) => valid(y, m, num(toks[1])?),
        (_, Some(m)) => valid(y, m, num(toks[0])?),
        _ => {
            let (a, b) = (num(toks[0])?, num(toks[1])?);
            valid(y, a, b) || valid(y, b, a)
        }
    };
    ok.then_some(y)
}

fn month(t: &str) -> Option<u32> {
    if t.len() < 3 || !t.bytes().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let names = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let head = t.get(..3)?;
    names
        .iter()
        .position(|m| m.eq_ignore_ascii_case(head))
        .and_then(|i| u32::try_from(i + 1).ok())
}

/// HMRC's prefix rules: no D, F, I, Q, U, V first; no D, F, I, O, Q, U, V second; and
/// BG, GB, KN, NK, NT, TN, ZZ are not allocated.
fn nino_prefix_valid(a: u8, b: u8) -> bool {
    !matches!(a, b'D' | b'F' | b'I' | b'Q' | b'U' | b'V')
        && !matches!(b, b'D' | b'F' | b'I' | b'O' | b'Q' | b'U' | b'V')
        && !matches!(
            &[a, b],
            b"BG" | b"GB" | b"KN" | b"NK" | b"NT" | b"TN" | b"ZZ"
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::LlmText;

    fn all() -> SensitiveData {
        let names: Vec<String> = ENTITY_NAMES.iter().map(|s| s.to_string()).collect();
        SensitiveData::new(Some(&names)).unwrap()
    }

    fn run(d: &SensitiveData, completion: &str) -> Vec<Finding> {
        let text = LlmText {
            prompt: Vec::new(),
            completion: vec![completion],
        };
        let mut out = Vec::new();
        out.extend(crate::detector::inspect_alone(d, &Event::default(), &text));
        out
    }

    /// (entity, count, examples) of each finding.
    fn found(d: &SensitiveData, completion: &str) -> Vec<(String, u64, Vec<String>)> {
        run(d, completion)
            .into_iter()
            .map(|f| {
                let examples = f.evidence["examples"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e.as_str().unwrap().to_string())
                    .collect();
                (
                    f.evidence["entity"].as_str().unwrap().to_string(),
                    f.evidence["count"].as_u64().unwrap(),
                    examples,
                )
            })
            .collect()
    }

    fn one(entity: &str, count: u64, examples: &[&str]) -> Vec<(String, u64, Vec<String>)> {
        vec![(
            entity.to_string(),
            count,
            examples.iter().map(|s| s.to_string()).collect(),
        )]
    }

    #[test]
    fn entity_sets() {
        let d = SensitiveData::new(None).unwrap();
        assert_eq!(
            d.entities().collect::<Vec<_>>(),
            [
                "credit_card",
                "iban",
                "us_ssn",
                "date_of_birth",
                "us_passport",
                "uk_nino",
                "contact_details"
            ]
        );
        let err = SensitiveData::new(Some(&["ssn".to_string()])).unwrap_err();
        assert!(err.contains("\"ssn\"") && err.contains("us_ssn"), "{err}");
        let only = SensitiveData::new(Some(&["email".to_string()])).unwrap();
        assert_eq!(only.entities().collect::<Vec<_>>(), ["email"]);
        // Default set: no email or phone findings without a name.
        assert!(run(&d, "Mail jane.doe@acme-health.com or call (415) 555-2671.").is_empty());
        // Prompts are not scanned.
        let text = LlmText {
            prompt: vec!["4111 1111 1111 1111"],
            completion: vec!["ok"],
        };
        let mut out = Vec::new();
        out.extend(crate::detector::inspect_alone(&d, &Event::default(), &text));
        assert!(out.is_empty());
    }

    #[test]
    fn payment_cards() {
        let d = SensitiveData::new(None).unwrap();
        let f = run(
            &d,
            "The card on file is 4111 1111 1111 1111, expiry 12/26. Backup: 5500-0000-0000-0004.",
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, "MW-AI-0004");
        assert_eq!(f[0].role, Some(Role::Completion));
        assert_eq!(f[0].evidence["role"], json!("completion"));
        assert_eq!(
            found(
                &d,
                "The card on file is 4111 1111 1111 1111, expiry 12/26. Backup: 5500-0000-0000-0004."
            ),
            one(
                "credit_card",
                2,
                &["**** **** **** 1111", "**** **** **** 0004"]
            )
        );
        // Amex 4-6-5, contiguous Discover, JCB, Diners, a 2-series Mastercard, expiry after.
        for (card, last) in [
            ("3782 822463 10005", "0005"),
            ("6011111111111117", "1117"),
            ("3530111333300000", "0000"),
            ("30569309025904", "5904"),
            ("2223 0031 2200 3222", "3222"),
            ("4111 1111 1111 1111 12/26", "1111"),
        ] {
            assert_eq!(
                found(&d, &format!("Card: {card}")),
                one("credit_card", 1, &[&format!("**** **** **** {last}")]),
                "{card}"
            );
        }
    }

    #[test]
    fn card_look_alikes() {
        let d = SensitiveData::new(None).unwrap();
        for text in [
            "Your order number is 4111 1111 1111 1112 and ships Monday.", // fails Luhn
            "Order #4000123456789011 confirmed.",                         // fails Luhn
            "Reference 1234567812345670 passes Luhn but no issuer starts with 1.",
            "Invoice INV-2024-000123-4111111111111111 is attached.",
            "Build 10.0.19041.1348, version 4.111.1111111111111",
            "ts=1714566896123 and 1714566896123456789 ns",
            "id 550e8400-e29b-41d4-a716-446655440000 and 41111111-1111-1111-1111-111111111111",
            "pi is 3.4111111111111111",
            "Amex is 15 digits, not 16: 3782 8224 6310 0052",
            "Tracking 1Z999AA10123456784 arrives 2024-05-01T12:34:56Z",
        ] {
            assert!(run(&d, text).is_empty(), "{text}: {:?}", run(&d, text));
        }
    }

    #[test]
    fn ibans() {
        let d = SensitiveData::new(None).unwrap();
        assert_eq!(
            found(&d, "IBAN AT70 4111 1111 1111 1111"),
            one("iban", 1, &["AT70…1111"])
        );
        // With IBANs off, their digits are still not a card.
        let cards = SensitiveData::new(Some(&["credit_card".to_string()])).unwrap();
        assert!(run(&cards, "IBAN AT70 4111 1111 1111 1111").is_empty());
        assert_eq!(
            found(
                &d,
                "Pay to GB82 WEST 1234 5698 7654 32 or DE89370400440532013000."
            ),
            one("iban", 2, &["GB82…5432", "DE89…3000"])
        );
        for text in [
            "Pay to GB83 WEST 1234 5698 7654 32.", // wrong check digits
            "Pay to GB82WEST1234569876543.",       // too short for GB
            "Model GB82 and part XX82 WEST 1234 5698 7654 32", // unknown country
            "lowercase gb82 west 1234 5698 7654 32",
        ] {
            assert!(run(&d, text).is_empty(), "{text}: {:?}", run(&d, text));
        }
    }

    #[test]
    fn social_security_numbers() {
        let d = SensitiveData::new(None).unwrap();
        assert_eq!(
            found(&d, "SSN: 536-22-4187. Spouse: 212-09-3344."),
            one("us_ssn", 2, &["***-**-4187", "***-**-3344"])
        );
        for text in [
            "000-12-3456",
            "666-12-3456",
            "912-34-5678",
            "536-00-4187",
            "536-22-0000",
            "078-05-1120",
            "219-09-9999",
            "An SSN looks like 123-45-6789.",
            "111-11-1111",
            "call 1-536-22-4187-9",
            "part 536-22-41870",
        ] {
            assert!(run(&d, text).is_empty(), "{text}: {:?}", run(&d, text));
        }
    }

    #[test]
    fn emails() {
        let d = all();
        assert_eq!(
            found(
                &d,
                "Contact jane.doe@acme-health.com (or JD@mail.acme.co.uk)."
            ),
            one(
                "email",
                2,
                &["j***@acme-health.com", "J***@mail.acme.co.uk"]
            )
        );
        for text in [
            "Write to support@example.com or ops@test.example",
            "Use logo@2x.png for retina screens",
            "npm i @scope/pkg@1.2.3 and git@host",
            "user@localhost",
        ] {
            assert!(run(&d, text).is_empty(), "{text}: {:?}", run(&d, text));
        }
    }

    #[test]
    fn phones() {
        let d = all();
        assert_eq!(
            found(
                &d,
                "Call +1 (415) 867-2671, +49 30 901820, (312) 867-5309 or 1-646-867-1234."
            ),
            one("phone", 4, &["***-2671", "***-1820", "***-5309"])
        );
        for text in [
            "let n = 4155552671; let m = 312-867;",
            "return a+14158672671;",
            "Dial (415) 555-0123 (fictional) or 1-800-356-9377 (toll-free).",
            "+44 20 7946 0958 is a drama number",
            "Release 123-456-7890 and 2024-555-1234",
            "Hosts 192.168.100.2 and 10.0.0.1; offset +0530; nums = [415, 867, 2671]",
            "x = +1234567",
        ] {
            assert!(run(&d, text).is_empty(), "{text}: {:?}", run(&d, text));
        }
    }

    #[test]
    fn dates_of_birth_only_when_labelled() {
        let d = SensitiveData::new(None).unwrap();
        assert_eq!(
            found(
                &d,
                "Name: Jane Doe\nDOB: 03/14/1985\n\"date_of_birth\": \"1990-02-28\"\n\
                 Date of birth is 5th of March, 1984. birthDate=Feb 29 2000"
            ),
            one(
                "date_of_birth",
                4,
                &["1985-**-**", "1990-**-**", "1984-**-**"]
            )
        );
        for text in [
            "The meeting is on 03/14/1985.",
            "DOB: 02/30/1985",
            "DOB: 1990-13-01",
            "DOB: 12/12/1850",
            "Adobe 2024-01-15 release",
            "Dobson was born 1985-03-14",
            "DOB unknown. Ticket filed 2024-01-15 by the clerk.",
        ] {
            assert!(run(&d, text).is_empty(), "{text}: {:?}", run(&d, text));
        }
    }

    #[test]
    fn passports_only_when_labelled() {
        let d = SensitiveData::new(None).unwrap();
        assert_eq!(
            found(
                &d,
                "Passport number: 531804927. \"passportNumber\": \"A03005988\""
            ),
            one("us_passport", 2, &["*****4927", "*****5988"])
        );
        for text in [
            "Order 531804927 shipped.",
            "Passport photos cost $15; call 531804927.",
            "passport: 123456789 or 999999999",
            "passport.authenticate('local') returned 531804927",
            "Passport number: 5318049271",
        ] {
            assert!(run(&d, text).is_empty(), "{text}: {:?}", run(&d, text));
        }
    }

    #[test]
    fn national_insurance_numbers() {
        let d = SensitiveData::new(None).unwrap();
        assert_eq!(
            found(&d, "NI number AB 12 34 56 C, partner CE123456D."),
            one("uk_nino", 2, &["AB ** ** ** C", "CE ** ** ** D"])
        );
        for text in [
            "QQ 12 34 56 C is HMRC's example",
            "GB123456A",
            "AO123456B",
            "AB123456E",
            "AB 123456 C",
            "Post to SW1A 1AA or EC1A 1BB, London.",
        ] {
            assert!(run(&d, text).is_empty(), "{text}: {:?}", run(&d, text));
        }
    }

    #[test]
    fn look_alikes_fire_once_valid() {
        // The negatives above fail for the reason given, not by accident.
        let d = all();
        for (text, entity) in [
            ("Order #4000123456789017 confirmed.", "credit_card"),
            ("Invoice INV-2024-000123 4111111111111111", "credit_card"),
            ("Amex: 3782 822463 10005", "credit_card"),
            ("Pay to GB82WEST12345698765432.", "iban"),
            ("call 536-22-4187 now", "us_ssn"),
            ("DOB: 02/29/1984", "date_of_birth"),
            ("Passport number: 531804928.", "us_passport"),
            ("AB123456D", "uk_nino"),
            ("Dial (415) 867-0123", "phone"),
            ("x = +14158672671", "phone"),
        ] {
            let f = found(&d, text);
            assert_eq!(f.len(), 1, "{text}: {f:?}");
            assert_eq!(f[0].0, entity, "{text}");
        }
    }

    #[test]
    fn one_finding_per_entity_across_completions() {
        let d = SensitiveData::new(None).unwrap();
        let text = LlmText {
            prompt: Vec::new(),
            completion: vec![
                "Card 4111 1111 1111 1111.",
                "Again: 4111111111111111 and 5500 0000 0000 0004, SSN 536-22-4187.",
            ],
        };
        let mut out = Vec::new();
        out.extend(crate::detector::inspect_alone(&d, &Event::default(), &text));
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].evidence["count"], json!(3));
        assert_eq!(
            out[0].evidence["examples"],
            json!(["**** **** **** 1111", "**** **** **** 0004"])
        );
        assert_eq!(out[1].evidence["entity"], json!("us_ssn"));
        assert_eq!(
            out[0].summary,
            "payment card number in the completion (3 found)"
        );
    }

    #[test]
    fn realistic_benign_answer() {
        let d = SensitiveData::new(None).unwrap();
        let text = "Sure! Here is the changelog for v2.14.3 (2024-05-01):\n\
                    - Fixed order 100234556 totals (invoice INV-000123, 12 items at $4,111.11)\n\
                    - Request id 7c9e6679-7425-40de-944b-e07fc1f90ae7 took 1234 ms\n\
                    - Deployed at 1714566896 to 10.0.0.12:8080, see RFC 4122 section 4.4\n\
                    Office: 221B Baker Street, London NW1 6XE. Code sample: `if x > 4111111111111110 {}`";
        assert!(run(&d, text).is_empty(), "{:?}", run(&d, text));
        assert!(run(&all(), text).is_empty(), "{:?}", run(&all(), text));
    }

    #[test]
    fn no_raw_value_in_findings() {
        let raw = [
            "4111 1111 1111 1111",
            "4111111111111111",
            "GB82 WEST 1234 5698 7654 32",
            "GB82WEST12345698765432",
            "536-22-4187",
            "jane.doe@acme-health.com",
            "+1 (415) 867-2671",
            "4158672671",
            "03/14/1985",
            "A03005988",
            "AB 12 34 56 C",
            "AB123456C",
        ];
        let text = "Card 4111 1111 1111 1111, IBAN GB82 WEST 1234 5698 7654 32, SSN 536-22-4187, \
                    mail jane.doe@acme-health.com, phone +1 (415) 867-2671, DOB: 03/14/1985, \
                    passport no. A03005988, NINO AB 12 34 56 C.";
        let findings = run(&all(), text);
        assert_eq!(findings.len(), 8);
        let debug = format!("{findings:?}");
        let digits: String = debug.chars().filter(char::is_ascii_alphanumeric).collect();
        for value in raw {
            assert!(!debug.contains(value), "{value} in {debug}");
            let compact: String = value.chars().filter(char::is_ascii_alphanumeric).collect();
            assert!(!digits.contains(&compact), "{compact} in {debug}");
        }
    }

    #[test]
    fn integers_in_code_are_not_cards() {
        let d = all();
        // Tables of large constants, in code and data.
        assert!(found(&d, "    (11068046444225730970, 1844674407370955161),\n").is_empty());
        assert!(found(&d, "POWERS = [4111111111111111, 5500000000000004]").is_empty());
        // A 19-digit integer alone needs a payment word before it.
        assert!(found(&d, "let seed = 4000000000000000006;").is_empty());
        assert_eq!(found(&d, "Card number: 4000000000000000006").len(), 1);
        // A 16-digit number alone on its line is still a card.
        assert_eq!(found(&d, "id 42\n4111111111111111\n").len(), 1);
    }

    #[test]
    fn digit_shapes_are_necessary_conditions() {
        let shapes = |t: &str| DigitShapes::of(t.as_bytes());
        assert!(shapes("The rollback at 02:31 took 17 minutes in 2026.").none());
        assert!(shapes("4111 1111 1111 1111").card);
        assert!(shapes("4111111111111111").card);
        assert!(!shapes("4111 1111 11").card);
        assert!(shapes("GB82 WEST 1234").iban);
        assert!(shapes("pay to DE89370400440532013000").iban);
        assert!(shapes("SSN 078-05-1120.").ssn);
        assert!(!shapes("078-051-120").ssn);
        assert!(shapes("(415) 555-2671").nanp);
        assert!(shapes("415.555.2671").nanp);
        assert!(!shapes("2026-11-22").nanp);
        assert!(shapes("QQ 12 34 56 C").nino);
        assert!(shapes("QQ123456C").nino);
        // Every pattern's match implies its shape.
        let d = all();
        for text in [
            "4111 1111 1111 1111",
            "GB82 WEST 1234 5698 7654 32",
            "078-05-1120",
            "+44 20 7946 0958",
            "(415) 555-2671",
            "1-415-555-2671",
            "QQ 12 34 56 C",
        ] {
            let s = shapes(text);
            assert!(
                d.digit_runs.find_iter(text).all(|m| m.len() < 13) || s.card,
                "{text}"
            );
            assert!(!d.iban_start.is_match(text) || s.iban, "{text}");
            assert!(!d.ssn.is_match(text) || s.ssn, "{text}");
            assert!(!d.nanp.is_match(text) || s.nanp, "{text}");
            assert!(!d.nino.is_match(text) || s.nino, "{text}");
        }
    }

    #[test]
    fn a_persons_contact_details_are_reported_by_default() {
        let d = SensitiveData::new(None).unwrap();
        // A name with an email address, with a phone number, in a contact card.
        assert_eq!(
            found(
                &d,
                "You can reach Jane Doe at jane.doe@acme-corp.com about the invoice."
            ),
            one("contact_details", 1, &["J*** D*** <j***@acme-corp.com>"])
        );
        assert_eq!(
            found(
                &d,
                "Customer: Dr. Okafor, mobile +44 7700 912 345, asked for a refund."
            ),
            one("contact_details", 1, &["Dr. O*** <***-2345>"])
        );
        assert_eq!(
            found(
                &d,
                "Account owner\nMaría José García-López\nHead of Finance\n(415) 867-2671\nmaria.garcia@contoso.io"
            ),
            one(
                "contact_details",
                2,
                &["M*** J*** G*** <m***@contoso.io>", "M*** J*** G*** <***-2671>"]
            )
        );
        // A first name the address is made of.
        assert_eq!(
            found(
                &d,
                "Write to Priya at priya@fabrikam.dev, she handles onboarding."
            ),
            one("contact_details", 1, &["P*** <p***@fabrikam.dev>"])
        );
        // Lone addresses and numbers stay opt-in, as do those of a team or a company.
        for text in [
            "Send the logs to ops-alerts@contoso.io and we will look.",
            "Call us on +44 7700 912 345 between nine and five.",
            "Contact Acme Support at support@acme-corp.com or call Customer Service at (415) 867-2671.",
            "Email our Sales Team at sales@contoso.io.",
            "Write to Sales at sales@contoso.io.",
            "The Python Software Foundation takes reports at security@python.org.",
            "Report it to the Bytecode Alliance CoC team at report@bytecodealliance.org.",
        ] {
            assert_eq!(found(&d, text), vec![], "{text}");
        }
        // With emails turned on, the lone address is an email; the contact entity can be
        // turned off like any other.
        let emails = SensitiveData::new(Some(&["email".to_string()])).unwrap();
        assert_eq!(
            found(&emails, "You can reach Jane Doe at jane.doe@acme-corp.com."),
            one("email", 1, &["j***@acme-corp.com"])
        );
        assert!(SensitiveData::new(None)
            .unwrap()
            .entities()
            .any(|e| e == "contact_details"));
    }

    #[test]
    fn no_panic_on_odd_input() {
        let d = all();
        let inputs = [
            "",
            "+",
            "+1 (",
            "+1 (415",
            "4111 1111 1111 111",
            "GB82",
            "GB82 WEST",
            "DOB:",
            "DOB: 12/",
            "passport A1234",
            "passport",
            "AB 12 34 56",
            "@",
            "a@b",
            "1-",
            "(415) 555",
            "DOB: 31 Febr 2000",
            "\u{1F600}4111 1111 1111 1111\u{E0041}",
            "DOB\u{00e9}\u{00e9} 1985-03-14",
            "passport \u{00e9}A03005988",
            "+999999999999999999999999",
            "4-4-4-4-4-4-4-4-4-4-4-4-4-4",
            "4111 1111 1111 1111 1111 1111 1111 1111 1111",
        ];
        for s in inputs {
            let _ = run(&d, s);
        }
        // Every prefix of a text full of values, cut at character boundaries.
        let text = "Card 4111 1111 1111 1111, GB82 WEST 1234 5698 7654 32, +1 (415) 867-2671, \
                    DOB: 5th of March, 1984, passport no. A03005988, AB 12 34 56 C, é 536-22-4187";
        for (i, _) in text.char_indices() {
            let _ = run(&d, &text[..i]);
        }
    }
}
