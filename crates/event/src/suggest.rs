//! "Did you mean": the known name closest to a misspelt one.

/// The candidate closest to `word` by edit distance (insertions, deletions, substitutions and
/// transpositions of adjacent characters, case ignored), when it is close enough to be a
/// misspelling: at most a third of the longer name's characters (at least one) differ. Ties go
/// to the first candidate. `None` when `word` is itself a candidate or nothing is close.
pub fn closest<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let word: Vec<char> = word.to_lowercase().chars().collect();
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        let chars: Vec<char> = candidate.to_lowercase().chars().collect();
        let limit = (word.len().max(chars.len()) / 3).max(1);
        let d = distance(&word, &chars);
        if d == 0 {
            return None;
        }
        if d <= limit && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// " (did you mean `NAME`?)" for [`closest`], or nothing.
pub fn did_you_mean<'a, I>(word: &str, candidates: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    closest(word, candidates)
        .map(|c| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

/// " (did you mean `KEY`?)" for serde's "unknown field `X`, expected one of `A`, `B`" (or
/// "unknown variant ..."), when one of the expected names is close to X; else nothing.
pub fn for_unknown_name(message: &str) -> String {
    let Some(rest) = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("unknown variant `"))
    else {
        return String::new();
    };
    let Some((word, rest)) = rest.split_once('`') else {
        return String::new();
    };
    let Some((_, expected)) = rest.split_once("expected") else {
        return String::new();
    };
    // The expected names are the odd pieces between backticks.
    did_you_mean(word, expected.split('`').skip(1).step_by(2))
}

/// Optimal string alignment distance.
fn distance(a: &[char], b: &[char]) -> usize {
    // Three rows: two back for transpositions.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut last: Vec<usize> = (0..=b.len()).collect();
    let mut row: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        row[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (last[j] + 1).min(row[j - 1] + 1).min(last[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(before[j - 2] + 1);
            }
            row[j] = d;
        }
        std::mem::swap(&mut before, &mut last);
        std::mem::swap(&mut last, &mut row);
    }
    last[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_names_are_suggested_far_ones_not() {
        let known = ["contains", "startswith", "endswith", "re", "all"];
        assert_eq!(closest("contians", known), Some("contains"));
        assert_eq!(closest("startwith", known), Some("startswith"));
        assert_eq!(
            closest("EndsWith", known),
            None,
            "a known name in another case"
        );
        assert_eq!(closest("endwsith", known), Some("endswith"));
        assert_eq!(closest("base64", known), None);
        assert_eq!(closest("al", known), Some("all"));
        assert_eq!(
            did_you_mean("sauce", ["source", "timestamp_fields"]),
            " (did you mean `source`?)"
        );
        assert_eq!(did_you_mean("zzz", ["source"]), "");
        assert_eq!(
            for_unknown_name("unknown field `treads`, expected one of `threads`, `quiet`"),
            " (did you mean `threads`?)"
        );
        assert_eq!(
            for_unknown_name("unknown variant `hihg`, expected `low` or `high`"),
            " (did you mean `high`?)"
        );
        assert_eq!(for_unknown_name("invalid type: integer"), "");
        let chars = |s: &str| s.chars().collect::<Vec<_>>();
        assert_eq!(distance(&chars("kitten"), &chars("sitting")), 3);
        assert_eq!(distance(&chars("ab"), &chars("ba")), 1);
        assert_eq!(distance(&chars(""), &chars("abc")), 3);
    }
}
