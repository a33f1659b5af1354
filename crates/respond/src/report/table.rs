//! HTML tables whose cells carry their column's name (`data-label`), so that on a narrow
//! screen the CSS can stack each row's cells under their labels.

use std::fmt::Write;

use super::escape;
use super::time;

/// One `<td>`: its class, an optional tooltip, its inner HTML (already escaped).
pub(super) struct Cell {
    class: &'static str,
    title: Option<String>,
    html: String,
}

impl Cell {
    /// A cell of HTML made by the caller (every value in it escaped).
    pub(super) fn html(class: &'static str, html: String) -> Cell {
        Cell {
            class,
            title: None,
            html,
        }
    }

    /// A cell of plain text.
    pub(super) fn text(class: &'static str, text: &str) -> Cell {
        Cell::html(class, escape::html(text))
    }

    /// A time: UTC to the minute, to the second in the tooltip.
    pub(super) fn time(ms: i64) -> Cell {
        Cell {
            class: "t",
            title: Some(time::utc(ms)),
            html: escape::html(&time::utc_minutes(ms)),
        }
    }

    /// A time if there is one, else an empty cell.
    pub(super) fn maybe_time(ms: Option<i64>) -> Cell {
        ms.map_or_else(|| Cell::html("", String::new()), Cell::time)
    }
}

/// A table being written.
pub(super) struct Table {
    cols: Vec<&'static str>,
    html: String,
}

impl Table {
    /// A table of `class` (empty for none) with these column names.
    pub(super) fn new(class: &str, cols: &[&'static str]) -> Table {
        let mut html = String::from("<div class=\"scroll\"><table class=\"stack");
        if !class.is_empty() {
            html.push(' ');
            html.push_str(&escape::html(class));
        }
        html.push_str("\">\n<thead><tr>");
        for c in cols {
            let _ = write!(html, "<th>{}</th>", escape::html(c));
        }
        html.push_str("</tr></thead>\n<tbody>\n");
        Table {
            cols: cols.to_vec(),
            html,
        }
    }

    /// A row; `class` for the `<tr>` (empty for none).
    pub(super) fn row(&mut self, class: &str, cells: Vec<Cell>) {
        if class.is_empty() {
            self.html.push_str("<tr>");
        } else {
            let _ = write!(self.html, "<tr class=\"{}\">", escape::html(class));
        }
        for (i, cell) in cells.into_iter().enumerate() {
            let label = self.cols.get(i).copied().unwrap_or("");
            self.html.push_str("<td");
            if !cell.class.is_empty() {
                let _ = write!(self.html, " class=\"{}\"", cell.class);
            }
            if let Some(title) = &cell.title {
                let _ = write!(self.html, " title=\"{}\"", escape::html(title));
            }
            let _ = write!(
                self.html,
                " data-label=\"{}\">{}</td>",
                escape::html(label),
                cell.html
            );
        }
        self.html.push_str("</tr>\n");
    }

    /// Appends the finished table to `out`.
    pub(super) fn finish(mut self, out: &mut String) {
        self.html.push_str("</tbody></table></div>\n");
        out.push_str(&self.html);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_carry_their_column_and_escape_text() {
        let mut t = Table::new("tasks", &["State", "Task"]);
        t.row(
            "task open",
            vec![Cell::html("", "<b>x</b>".into()), Cell::text("msg", "<i>")],
        );
        let mut out = String::new();
        t.finish(&mut out);
        assert!(out.contains("<table class=\"stack tasks\">"));
        assert!(out.contains(
            "<tr class=\"task open\"><td data-label=\"State\"><b>x</b></td><td class=\"msg\" data-label=\"Task\">&lt;i&gt;</td></tr>"
        ));
    }
}
