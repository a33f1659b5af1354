//! Escaping values from the logs for HTML/SVG and for Markdown table cells.

/// For HTML and SVG text and attribute values: `& < > " '`.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// For inline Markdown and GFM table cells: `|` and `\` escaped, line breaks as `<br>`,
/// `<` and `>` as entities (a renderer that lets HTML through gets no tag from the logs).
pub(super) fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '|' => out.push_str("\\|"),
            '\\' => out.push_str("\\\\"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("<br>");
            }
            '\n' => out.push_str("<br>"),
            c if c.is_control() => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_markup_and_quotes() {
        assert_eq!(
            html(r#"<script>alert("x" & 'y')</script>"#),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;"
        );
    }

    #[test]
    fn markdown_cells_keep_one_line_and_their_pipes() {
        assert_eq!(md("a|b\\|c\r\nd\ne"), "a\\|b\\\\\\|c<br>d<br>e");
        assert_eq!(md("<b>\t"), "&lt;b&gt; ");
    }
}
