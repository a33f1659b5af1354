//! ES|QL semantics as the reference defines them, checked query by query.

use modelward_esql::{run_query, Value};
use modelward_event::{Event, Schema};
use serde_json::{json, Value as Json};

fn events(docs: &[Json]) -> Vec<Event> {
    docs.iter()
        .map(|d| Event::from_json(&d.to_string()).expect("test event"))
        .collect()
}

/// Runs a query and returns the result as JSON rows (column name -> value).
fn run(query: &str, docs: &[Json]) -> Vec<Json> {
    let (out, _) =
        run_query(query, &events(docs), &Schema::default()).unwrap_or_else(|e| panic!("{e}"));
    out.rows
        .iter()
        .map(|row| {
            let mut obj = serde_json::Map::new();
            for (c, v) in out.columns.iter().zip(row) {
                obj.insert(c.clone(), v.to_json());
            }
            Json::Object(obj)
        })
        .collect()
}

fn columns(query: &str, docs: &[Json]) -> Vec<String> {
    run_query(query, &events(docs), &Schema::default())
        .unwrap()
        .0
        .columns
}

fn warnings(query: &str, docs: &[Json]) -> Vec<String> {
    run_query(query, &events(docs), &Schema::default())
        .unwrap()
        .1
        .messages
}

#[test]
fn where_keeps_only_true() {
    let docs = [
        json!({"a": 1}),
        json!({"a": null}),
        json!({"b": 2}),
        json!({"a": 3}),
    ];
    assert_eq!(
        run("from x | where a > 1 | keep a", &docs),
        vec![json!({"a": 3})]
    );
    assert_eq!(
        run("from x | where not a > 1 | keep a", &docs),
        vec![json!({"a": 1})]
    );
    assert_eq!(
        run("from x | where a > 1 or a is null | keep a | sort a", &docs).len(),
        3
    );
}

#[test]
fn three_valued_logic_in_where() {
    let docs = [json!({"a": 1})];
    assert_eq!(
        run("from x | where b == 1 or a == 1 | keep a", &docs).len(),
        1
    );
    assert_eq!(
        run("from x | where b == 1 and a == 1 | keep a", &docs).len(),
        0
    );
    assert_eq!(run("from x | where not (b == 1) | keep a", &docs).len(), 0);
}

#[test]
fn count_star_counts_rows_count_field_counts_values() {
    let docs = [
        json!({"t": ["a", "b"]}),
        json!({"t": null}),
        json!({"t": "c"}),
    ];
    let rows = run(
        "from x | stats rows = count(*), vals = count(t), unnamed = count()",
        &docs,
    );
    assert_eq!(rows, vec![json!({"rows": 3, "vals": 3, "unnamed": 3})]);
}

#[test]
fn aggregates_ignore_nulls() {
    let docs = [
        json!({"n": 1}),
        json!({"n": null}),
        json!({"n": 5}),
        json!({}),
    ];
    let rows = run("from x | stats mn = min(n), mx = max(n), s = sum(n), a = avg(n), c = count(n), md = median(n)", &docs);
    assert_eq!(
        rows,
        vec![json!({"mn": 1, "mx": 5, "s": 6, "a": 3.0, "c": 2, "md": 3.0})]
    );
    let rows = run(
        "from x | where n > 100 | stats c = count(*), m = max(n)",
        &docs,
    );
    assert_eq!(rows, vec![json!({"c": 0, "m": null})]);
}

#[test]
fn null_group_key_is_its_own_group() {
    let docs = [
        json!({"g": "a"}),
        json!({}),
        json!({"g": "a"}),
        json!({"g": null}),
    ];
    let rows = run("from x | stats c = count(*) by g | sort g", &docs);
    assert_eq!(
        rows,
        vec![json!({"c": 2, "g": "a"}), json!({"c": 2, "g": null})]
    );
}

#[test]
fn multi_valued_group_key_puts_row_in_each_group() {
    let docs = [json!({"g": ["a", "b"]}), json!({"g": "a"})];
    let rows = run("from x | stats c = count(*) by g | sort g", &docs);
    assert_eq!(
        rows,
        vec![json!({"c": 2, "g": "a"}), json!({"c": 1, "g": "b"})]
    );
}

#[test]
fn stats_columns_are_aggregates_then_keys() {
    let docs = [json!({"g": "a", "h": 1, "n": 2})];
    assert_eq!(columns("from x | stats by g, h", &docs), vec!["g", "h"]);
    assert_eq!(
        columns("from x | stats max(n), c = count(*) by g", &docs),
        vec!["max(n)", "c", "g"]
    );
    let rows = run(
        "from x | stats spread = max(n) - min(n), twice = 2 * count(*) by g",
        &docs,
    );
    assert_eq!(rows, vec![json!({"spread": 0, "twice": 2, "g": "a"})]);
}

#[test]
fn nulls_sort_as_largest() {
    let docs = [json!({"n": 2}), json!({}), json!({"n": 1})];
    let asc: Vec<Json> = run("from x | sort n | keep n", &docs);
    assert_eq!(
        asc,
        vec![json!({"n": 1}), json!({"n": 2}), json!({"n": null})]
    );
    let desc = run("from x | sort n desc | keep n", &docs);
    assert_eq!(
        desc,
        vec![json!({"n": null}), json!({"n": 2}), json!({"n": 1})]
    );
    let first = run("from x | sort n asc nulls first | keep n", &docs);
    assert_eq!(first[0], json!({"n": null}));
    let last = run("from x | sort n desc nulls last | keep n", &docs);
    assert_eq!(last[2], json!({"n": null}));
}

#[test]
fn multi_value_in_scalar_comparison_is_null_with_warning() {
    let docs = [json!({"n": [1, 2]}), json!({"n": 1})];
    assert_eq!(
        run("from x | where n == 1 | keep n", &docs),
        vec![json!({"n": 1})]
    );
    let w = warnings("from x | where n == 1 | keep n", &docs);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("single-value function encountered multi-value"),
        "{w:?}"
    );
    assert!(
        w[0].starts_with("Line 1:16: evaluation of [n == 1] failed"),
        "{w:?}"
    );
}

#[test]
fn like_and_rlike_are_case_sensitive_whole_string() {
    let docs = [
        json!({"s": "ListKey"}),
        json!({"s": "listkeys"}),
        json!({"s": "xListKey"}),
    ];
    assert_eq!(
        run("from x | where s like \"List*\" | keep s", &docs),
        vec![json!({"s": "ListKey"})]
    );
    assert_eq!(
        run("from x | where s like \"?ist*\" | keep s", &docs).len(),
        2
    );
    assert_eq!(
        run("from x | where s rlike \"[lL]ist[Kk]ey.*\" | keep s", &docs).len(),
        2
    );
    assert_eq!(
        run("from x | where s like (\"x*\", \"l*\") | keep s", &docs).len(),
        2
    );
    assert_eq!(
        run("from x | where s not like \"*Key\" | keep s", &docs),
        vec![json!({"s": "listkeys"})]
    );
    assert_eq!(
        run("from x | where s rlike \"\"\"x\\w+\"\"\" | keep s", &docs).len(),
        1
    );
}

#[test]
fn in_with_nulls() {
    let docs = [json!({"s": "a"}), json!({"s": "c"}), json!({})];
    assert_eq!(
        run("from x | where s in (\"a\", \"b\") | keep s", &docs).len(),
        1
    );
    assert_eq!(
        run("from x | where s not in (\"a\", \"b\") | keep s", &docs),
        vec![json!({"s": "c"})]
    );
    // `c IN ("a", null)` is null, so the row is not kept, nor by NOT IN.
    assert_eq!(
        run("from x | where s not in (\"a\", null) | keep s", &docs).len(),
        0
    );
}

#[test]
fn string_literal_cast_to_field_type() {
    let docs = [
        json!({"@timestamp": "2024-05-01T12:00:00Z", "source": {"ip": "10.1.2.3"}}),
        json!({"@timestamp": "2024-05-02T12:00:00Z", "source": {"ip": "192.168.1.1"}}),
    ];
    assert_eq!(
        run(
            "from x | where @timestamp > \"2024-05-01T18:00:00Z\" | keep source.ip",
            &docs
        ),
        vec![json!({"source.ip": "192.168.1.1"})]
    );
    assert_eq!(
        run(
            "from x | where source.ip == \"10.1.2.3\" | keep source.ip",
            &docs
        )
        .len(),
        1
    );
    assert_eq!(
        run(
            "from x | where cidr_match(source.ip, \"10.0.0.0/8\") | keep source.ip",
            &docs
        )
        .len(),
        1
    );
}

#[test]
fn casts_and_conversions() {
    let rows = run("row a = \"42\", b = 2.9 | eval c = a::integer + 1, d = to_long(b), e = b::keyword, f = to_ip(\"10.0.0.1\")", &[]);
    assert_eq!(rows[0]["c"], json!(43));
    assert_eq!(rows[0]["d"], json!(2));
    assert_eq!(rows[0]["e"], json!("2.9"));
    assert_eq!(rows[0]["f"], json!("10.0.0.1"));
    let w = warnings("row a = \"x\" | eval b = a::long", &[]);
    assert_eq!(w.len(), 1);
}

#[test]
fn arithmetic_overflow_and_division_by_zero_are_null_with_warning() {
    let rows = run(
        "row a = 2147483647, b = 0 | eval c = a + 1, d = 10 / b, e = 7 / 2, f = 7.0 / 2",
        &[],
    );
    assert_eq!(rows[0]["c"], json!(null));
    assert_eq!(rows[0]["d"], json!(null));
    assert_eq!(rows[0]["e"], json!(3));
    assert_eq!(rows[0]["f"], json!(3.5));
    assert_eq!(
        warnings(
            "row a = 2147483647, b = 0 | eval c = a + 1, d = 10 / b",
            &[]
        )
        .len(),
        2
    );
}

#[test]
fn implicit_limit_is_1000() {
    let docs: Vec<Json> = (0..1500).map(|i| json!({"i": i})).collect();
    assert_eq!(run("from x | keep i", &docs).len(), 1000);
    assert_eq!(run("from x | keep i | limit 5", &docs).len(), 5);
}

#[test]
fn eval_replaces_and_moves_columns() {
    let docs = [json!({"a": 1, "b": 2})];
    assert_eq!(
        columns("from x | keep a, b | eval a = a + 10", &docs),
        vec!["b", "a"]
    );
    assert_eq!(
        run("from x | keep a, b | eval a = a + 10, c = a * 2", &docs),
        vec![json!({"b": 2, "a": 11, "c": 22})]
    );
    assert_eq!(
        columns("from x | keep a, b | eval b + 1", &docs),
        vec!["a", "b", "b + 1"]
    );
}

#[test]
fn from_returns_all_fields_sorted_keep_drop_rename() {
    let docs = [json!({"z": 1, "a": {"b": 2, "c": 3}})];
    assert_eq!(columns("from x", &docs), vec!["a.b", "a.c", "z"]);
    assert_eq!(columns("from x | drop a.*", &docs), vec!["z"]);
    assert_eq!(
        columns("from x | keep z, a.*", &docs),
        vec!["z", "a.b", "a.c"]
    );
    assert_eq!(
        run("from x | rename z as y | keep y", &docs),
        vec![json!({"y": 1})]
    );
    assert_eq!(
        run("from x | rename y = z | keep y", &docs),
        vec![json!({"y": 1})]
    );
}

#[test]
fn mv_functions_and_expand() {
    let docs = [json!({"t": ["b", "a", "c"], "n": [3, 1, 2]})];
    let rows = run("from x | eval c = mv_count(t), f = mv_first(t), l = mv_last(t), j = mv_concat(t, \"-\"), s = mv_sum(n), mx = mv_max(n) | keep c, f, l, j, s, mx", &docs);
    assert_eq!(
        rows,
        vec![json!({"c": 3, "f": "a", "l": "c", "j": "a-b-c", "s": 6, "mx": 3})]
    );
    let rows = run("from x | mv_expand t | keep t", &docs);
    assert_eq!(
        rows,
        vec![json!({"t": "a"}), json!({"t": "b"}), json!({"t": "c"})]
    );
}

#[test]
fn count_distinct_values_percentile() {
    let docs: Vec<Json> = (1..=10).map(|i| json!({"n": i, "g": i % 3})).collect();
    let rows = run(
        "from x | stats d = count_distinct(g), v = values(g), p = percentile(n, 90)",
        &docs,
    );
    assert_eq!(rows, vec![json!({"d": 3, "v": [0, 1, 2], "p": 9.1})]);
}

#[test]
fn date_functions_and_time_spans() {
    let docs = [json!({"@timestamp": "2024-05-01T12:43:04.123Z"})];
    let rows = run("from x | eval h = date_trunc(1 hour, @timestamp), later = @timestamp + 30 minutes, d = date_diff(\"second\", @timestamp, later) | keep h, later, d", &docs);
    assert_eq!(
        rows,
        vec![
            json!({"h": "2024-05-01T12:00:00.000Z", "later": "2024-05-01T13:13:04.123Z", "d": 1800})
        ]
    );
    let rows = run(
        "from x | stats c = count(*) by bucket = date_trunc(1 day, @timestamp)",
        &docs,
    );
    assert_eq!(
        rows,
        vec![json!({"c": 1, "bucket": "2024-05-01T00:00:00.000Z"})]
    );
}

#[test]
fn case_coalesce_and_strings() {
    let docs = [json!({"n": 5, "s": "Hello"}), json!({"n": 50})];
    let rows = run("from x | eval size = case(n < 10, \"small\", n < 100, \"medium\", \"large\"), s2 = coalesce(s, \"none\"), u = to_upper(s2), st = starts_with(s2, \"He\") | keep size, s2, u, st", &docs);
    assert_eq!(
        rows[0],
        json!({"size": "small", "s2": "Hello", "u": "HELLO", "st": true})
    );
    assert_eq!(
        rows[1],
        json!({"size": "medium", "s2": "none", "u": "NONE", "st": false})
    );
}

#[test]
fn nested_and_flattened_fields_resolve_alike() {
    let docs = [
        json!({"azure": {"open_ai": {"category": "Audit"}}}),
        json!({"azure.open_ai.category": "Audit"}),
    ];
    assert_eq!(
        run(
            "from x | where azure.open_ai.category == \"Audit\" | stats c = count(*)",
            &docs
        ),
        vec![json!({"c": 2})]
    );
}

#[test]
fn errors_carry_positions() {
    let e = run_query("from x | where a ==", &[], &Schema::default()).unwrap_err();
    assert_eq!((e.line, e.column), (1, 20));
    let e = run_query(
        "from x\n| stats c = count(*)\n| keep nope",
        &[],
        &Schema::default(),
    )
    .unwrap_err();
    assert!(e.message.contains("Unknown column [nope]"), "{e}");
    let e = run_query("from x | eval y = frobnicate(a)", &[], &Schema::default()).unwrap_err();
    assert_eq!(
        (e.line, e.column, e.message.as_str()),
        (1, 19, "Unknown function [frobnicate]")
    );
    let e = run_query(
        "from x | stats c = count(*) by g | stats max(h)",
        &[],
        &Schema::default(),
    )
    .unwrap_err();
    assert!(e.message.contains("Unknown column [h]"), "{e}");
    let e = run_query(
        "from x | stats a by b | eval q = 1",
        &[],
        &Schema::default(),
    )
    .unwrap_err();
    assert!(e.message.contains("expected an aggregate"), "{e}");
    let e = run_query("from x | where max(a) > 1", &[], &Schema::default()).unwrap_err();
    assert!(e.message.contains("only allowed in STATS"), "{e}");
}

#[test]
fn the_seed_rule_query() {
    let query = r#"from logs-azure_openai.logs-*
| where azure.open_ai.operation_name == "ListKey" and azure.open_ai.category == "Audit"
| KEEP @timestamp, azure.open_ai.operation_name , azure.open_ai.category, azure.resource.group, azure.resource.name, azure.open_ai.properties.response_length
| stats count = count(), max_data_transferred = max(azure.open_ai.properties.response_length) by azure.resource.group , azure.resource.name
| where count >= 100 or max_data_transferred >= 1000000
| sort count desc"#;
    let doc = |group: &str, len: i64| json!({"@timestamp": "2024-05-01T12:00:00Z", "azure": {"open_ai": {"operation_name": "ListKey", "category": "Audit", "properties": {"response_length": len}}, "resource": {"group": group, "name": "oai"}}});
    let mut docs: Vec<Json> = (0..100).map(|_| doc("rg-a", 10)).collect();
    docs.extend((0..99).map(|_| doc("rg-b", 10)));
    docs.push(doc("rg-c", 1_000_000));
    let rows = run(query, &docs);
    assert_eq!(
        rows,
        vec![
            json!({"count": 100, "max_data_transferred": 10, "azure.resource.group": "rg-a", "azure.resource.name": "oai"}),
            json!({"count": 1, "max_data_transferred": 1_000_000, "azure.resource.group": "rg-c", "azure.resource.name": "oai"}),
        ]
    );
    let _ = Value::Null;
}

#[test]
fn dissect_and_grok_add_columns_and_parse_each_value() {
    let docs = [
        json!({"msg": "2024-05-01 - hello - 10.0.0.1"}),
        json!({"msg": ["a - b - c", "d - e - f"]}),
        json!({"msg": "no match"}),
    ];
    let rows = run(
        "from x | dissect msg \"%{date} - %{text} - %{ip}\" | keep date, text, ip",
        &docs,
    );
    assert_eq!(
        rows[0],
        json!({"date": "2024-05-01", "text": "hello", "ip": "10.0.0.1"})
    );
    assert_eq!(
        rows[1],
        json!({"date": ["a", "d"], "text": ["b", "e"], "ip": ["c", "f"]})
    );
    assert_eq!(rows[2], json!({"date": null, "text": null, "ip": null}));
    let rows = run("row line = \"GET /index.html 200 512\" | grok line \"%{WORD:method} %{URIPATH:path} %{INT:status:int} %{NUMBER:bytes:long}\" | drop line", &[]);
    assert_eq!(
        rows[0],
        json!({"bytes": 512, "method": "GET", "path": "/index.html", "status": 200})
    );
}

#[test]
fn a_second_keep_narrows_the_first_and_row_fields_are_checked() {
    let docs = [json!({"a": {"x": 1, "y": 2}, "b": {"x": 3}})];
    assert_eq!(
        columns("from x | keep a.*, b.* | keep *.x", &docs),
        vec!["a.x", "b.x"]
    );
    assert_eq!(columns("from x | keep a.* | keep *.x", &docs), vec!["a.x"]);
    assert_eq!(
        run("row a = 1, b = a + 1", &[]),
        vec![json!({"a": 1, "b": 2})]
    );
    let e = run_query("row a = 1, b = c + 1", &[], &Schema::default()).unwrap_err();
    assert!(e.message.contains("Unknown column [c]"), "{e}");
}

#[test]
fn replace_with_a_constant_pattern_or_one_from_the_data() {
    let docs = [
        json!({"s": "a1b22", "p": "[ab]"}),
        json!({"s": ["x1", "y2"], "p": "\\d"}),
        json!({"p": "x"}),
    ];
    // A constant pattern is compiled once, at load; one from the data per row.
    assert_eq!(
        run(
            "from x | eval c = replace(s, \"\\\\d+\", \"#\"), d = replace(s, p, \"_\") | keep c, d",
            &docs
        ),
        vec![
            json!({"c": "a#b#", "d": "_1_22"}),
            json!({"c": null, "d": null}),
            json!({"c": null, "d": null}),
        ]
    );
    let w = warnings(
        "from x | eval c = replace(s, \"\\\\d+\", \"#\") | keep c",
        &docs,
    );
    assert!(
        w.iter()
            .any(|m| m.contains("single-value function encountered multi-value")),
        "{w:?}"
    );
    // An invalid constant is each row's warning, as before.
    let w = warnings(
        "from x | eval c = replace(s, \"(\", \"#\") | keep c",
        &docs[..1],
    );
    assert!(w.iter().any(|m| m.contains("invalid regex [(]")), "{w:?}");
}
