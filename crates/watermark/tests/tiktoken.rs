//! tiktoken encodings: the token ids OpenAI's tiktoken gives, and the greenlist watermark
//! over such a vocabulary.
//!
//! Ground truth: OpenAI's Python `tiktoken` 0.14.0 from PyPI, `Encoding.encode_ordinary`,
//! fed the rank files that `tiktoken-rs` ships (tiktoken checked them against the SHA-256 it
//! expects for each encoding); "hello world" is also in tiktoken's own tests.

use modelward_watermark::{Detector, Params, TiktokenEncoding, Tokenizer};

const TEXTS: [&str; 6] = [
    "hello world",
    "Hello, world! It's 2026 — naïve café 👍 你好",
    "  indented\n\tcode: x = 12345678;\r\n",
    "<|endoftext|> is plain here",
    "don't WE'LL they've",
    "def f():\n        return 1\n",
];

fn expected(encoding: TiktokenEncoding) -> [&'static [u32]; 6] {
    match encoding {
        TiktokenEncoding::Cl100kBase => [
            &[15339, 1917],
            &[
                9906, 11, 1917, 0, 1102, 596, 220, 2366, 21, 2001, 95980, 588, 53050, 62904, 235,
                220, 57668, 53901,
            ],
            &[
                220, 1280, 16243, 198, 44443, 25, 865, 284, 220, 4513, 10961, 2495, 464,
            ],
            &[27, 91, 8862, 728, 428, 91, 29, 374, 14733, 1618],
            &[15357, 956, 20255, 6, 4178, 814, 3077],
            &[755, 282, 4019, 286, 471, 220, 16, 198],
        ],
        TiktokenEncoding::O200kBase => [
            &[24912, 2375],
            &[
                13225, 11, 2375, 0, 7744, 220, 1323, 21, 2733, 153475, 737, 30469, 160433, 220,
                177519,
            ],
            &[
                220, 1383, 23537, 198, 86873, 25, 1215, 314, 220, 7633, 19354, 4388, 610,
            ],
            &[27, 91, 419, 1440, 919, 91, 29, 382, 21402, 2105],
            &[91418, 26919, 6, 7454, 51676],
            &[1314, 285, 8595, 309, 622, 220, 16, 198],
        ],
        TiktokenEncoding::P50kBase | TiktokenEncoding::R50kBase => [
            &[31373, 995],
            &[
                15496, 11, 995, 0, 632, 338, 1160, 2075, 851, 41492, 40304, 50169, 235, 220, 19526,
                254, 25001, 121,
            ],
            &[
                220, 773, 4714, 198, 197, 8189, 25, 2124, 796, 17031, 2231, 30924, 26, 201, 198,
            ],
            &[27, 91, 437, 1659, 5239, 91, 29, 318, 8631, 994],
            &[9099, 470, 12887, 6, 3069, 484, 1053],
            // p50k_base's whitespace runs (50257 …) are where it parts from r50k_base.
            if encoding == TiktokenEncoding::P50kBase {
                &[4299, 277, 33529, 198, 50262, 1441, 352, 198]
            } else {
                &[
                    4299, 277, 33529, 198, 220, 220, 220, 220, 220, 220, 220, 1441, 352, 198,
                ]
            },
        ],
    }
}

#[test]
fn ids_are_tiktokens() {
    let n_vocab = [100_277, 200_019, 50_281, 50_257];
    for (encoding, n) in TiktokenEncoding::ALL.into_iter().zip(n_vocab) {
        let tokenizer = Tokenizer::tiktoken(encoding).unwrap();
        assert_eq!(tokenizer.vocab_size(), n, "{}", encoding.name());
        assert_eq!(tokenizer.tiktoken_encoding(), Some(encoding));
        for (text, ids) in TEXTS.iter().zip(expected(encoding)) {
            assert_eq!(
                tokenizer.encode(text).unwrap(),
                ids,
                "{} {text:?}",
                encoding.name()
            );
        }
    }
    assert_eq!(
        "o200k_base".parse::<TiktokenEncoding>().unwrap(),
        TiktokenEncoding::O200kBase
    );
    assert!("gpt2".parse::<TiktokenEncoding>().is_err());
}

#[test]
fn a_long_whitespace_run_is_tokenized_not_a_crash() {
    let tokenizer = Tokenizer::tiktoken(TiktokenEncoding::Cl100kBase).unwrap();
    let text = format!("{}x", " \n".repeat(20_000));
    // Either ids or an error: never a panic out of the split regex.
    if let Ok(ids) = tokenizer.encode(&text) {
        assert!(!ids.is_empty());
    }
}

/// A small xorshift: the test's own randomness, reproducible.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// Word tokens (" " and 2–12 ASCII lowercase letters): any sequence of them joins into text
/// that tokenizes back to the same ids, since the split regex cuts before each space.
fn words(encoding: TiktokenEncoding) -> Vec<(u32, String)> {
    let bpe = match encoding {
        TiktokenEncoding::Cl100kBase => tiktoken_rs::cl100k_base(),
        TiktokenEncoding::O200kBase => tiktoken_rs::o200k_base(),
        TiktokenEncoding::P50kBase => tiktoken_rs::p50k_base(),
        TiktokenEncoding::R50kBase => tiktoken_rs::r50k_base(),
    }
    .unwrap();
    (0..encoding.n_vocab())
        .filter_map(|id| {
            let bytes = bpe.decode_bytes(&[id]).ok()?;
            let word = bytes.strip_prefix(b" ")?;
            ((2..=12).contains(&word.len()) && word.iter().all(u8::is_ascii_lowercase))
                .then(|| (id, String::from_utf8(bytes).unwrap()))
        })
        .collect()
}

/// Text made as Transformers' WatermarkLogitsProcessor makes it with a strong bias: each next
/// token drawn from the greenlist that the previous token seeds (lefthash), among word tokens;
/// with `key` None, drawn without a watermark.
fn generate(
    encoding: TiktokenEncoding,
    key: Option<u64>,
    n: usize,
    rng: &mut Rng,
) -> (String, Vec<u32>) {
    let words = words(encoding);
    let mut detector = Detector::new(Params {
        hashing_key: key.unwrap_or(1),
        ..Params::new(encoding.n_vocab())
    })
    .unwrap();
    let mut ids = vec![words[rng.below(words.len())].0];
    let mut text = words.iter().find(|w| w.0 == ids[0]).unwrap().1.clone();
    while ids.len() < n {
        let (id, word) = loop {
            let w = &words[rng.below(words.len())];
            if key.is_none() || detector.is_green(&ids[ids.len() - 1..], w.0) {
                break w;
            }
        };
        ids.push(*id);
        text.push_str(word);
    }
    (text, ids)
}

#[test]
fn watermarked_text_over_a_tiktoken_vocabulary_is_detected_and_plain_text_is_not() {
    let key = 15_485_863;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for encoding in [TiktokenEncoding::Cl100kBase, TiktokenEncoding::O200kBase] {
        let tokenizer = Tokenizer::tiktoken(encoding).unwrap();
        let mut detector = Detector::new(Params {
            hashing_key: key,
            ..Params::new(tokenizer.vocab_size())
        })
        .unwrap();

        let (marked, marked_ids) = generate(encoding, Some(key), 120, &mut rng);
        let ids = tokenizer.encode(&marked).unwrap();
        assert_eq!(ids, marked_ids, "{} round trip", encoding.name());
        let score = detector.score(&ids).unwrap();
        assert_eq!(score.tokens_scored, 119);
        assert_eq!(score.green_tokens, 119, "{}", encoding.name());
        assert!(score.z_score > 15.0, "{} {score:?}", encoding.name());

        let (plain, _) = generate(encoding, None, 120, &mut rng);
        let score = detector.score(&tokenizer.encode(&plain).unwrap()).unwrap();
        assert!(score.z_score < 4.0, "{} plain {score:?}", encoding.name());

        // Another key: the watermark is not ours.
        let mut other = Detector::new(Params {
            hashing_key: key + 2,
            ..Params::new(tokenizer.vocab_size())
        })
        .unwrap();
        let score = other.score(&ids).unwrap();
        assert!(
            score.z_score < 4.0,
            "{} other key {score:?}",
            encoding.name()
        );

        // A greenlist over another vocabulary size (GPT-2's) is another greenlist.
        let mut wrong_vocab = Detector::new(Params {
            hashing_key: key,
            ..Params::new(50_257.max(*ids.iter().max().unwrap() + 1))
        })
        .unwrap();
        let score = wrong_vocab.score(&ids).unwrap();
        assert!(
            score.z_score < 4.0,
            "{} wrong n_vocab {score:?}",
            encoding.name()
        );
    }
}
