//! Snapshot tests of the ES|QL parser: the syntax tree of each query (with spans, so that
//! precedence and unnamed column names are visible), and the message of each syntax error.
//! Every snapshot records its query as the description.

use modelward_esql::parser::parse;

/// Parses `$query` and snapshots its syntax tree.
macro_rules! assert_parses {
    ($query:expr) => {{
        let query: &str = $query;
        let parsed = parse(query).unwrap_or_else(|e| panic!("{query}\n{e}"));
        insta::with_settings!({ description => query, omit_expression => true }, {
            insta::assert_debug_snapshot!(parsed);
        });
    }};
}

/// Fails to parse `$query` and snapshots the error message, caret snippet included.
macro_rules! assert_error {
    ($query:expr) => {{
        let query: &str = $query;
        let err = match parse(query) {
            Ok(parsed) => panic!("{query}\nparsed, expected an error: {parsed:#?}"),
            Err(e) => e,
        };
        insta::with_settings!({ description => query, omit_expression => true }, {
            insta::assert_snapshot!(err.to_string());
        });
    }};
}

// ---------------------------------------------------------------------------------------------
// Source commands
// ---------------------------------------------------------------------------------------------

#[test]
fn from_several_index_patterns() {
    assert_parses!("FROM logs-azure_openai.logs-*, logs-*,metrics-apm* ,  remote:logs-1");
}

#[test]
fn from_quoted_patterns_and_metadata() {
    assert_parses!(r#"from "logs-a,logs-b" , "weird index" METADATA _id, _index"#);
}

#[test]
fn row_literals_and_numbers() {
    assert_parses!(
        "ROW a = 2147483647, b = 2147483648, c = 9223372036854775807, d = -2147483648, \
         e = 1.5e3, f = .5, g = 7., h = null, i = TRUE, j = \"s\""
    );
}

// ---------------------------------------------------------------------------------------------
// Expressions and precedence
// ---------------------------------------------------------------------------------------------

#[test]
fn where_or_and_not_comparison_precedence() {
    // OR < AND < NOT < comparison: a OR (b AND (NOT (c == 1))) OR ((NOT d) AND e)
    assert_parses!("FROM x | WHERE a OR b AND NOT c == 1 OR NOT d AND e");
}

#[test]
fn where_arithmetic_precedence() {
    // ((a + (b * c)) - ((d / e) % f)) > (-g)
    assert_parses!("FROM x | WHERE a + b * c - d / e % f > -g");
}

#[test]
fn unary_minus_casts_and_parentheses() {
    // `::` binds tighter than unary minus; negative literals fold; parentheses are kept in spans.
    assert_parses!(
        "ROW a = -x::long, b = -1::double, c = (1 + 2)::keyword::integer, d = - -3, e = -(y)"
    );
}

#[test]
fn comparison_operators() {
    assert_parses!("ROW a = x == 1, b = x != 2, c = x < 3, d = x <= 4, e = x > 5, f = x >= 6");
}

#[test]
fn like_and_rlike_single_and_list_forms() {
    assert_parses!(
        r#"FROM x | WHERE a LIKE "foo*" AND b RLIKE "ba.*" AND c LIKE ("a*", "b?") AND d NOT RLIKE ("x", "y")"#
    );
}

#[test]
fn not_like_and_not_prefix() {
    // NOT a LIKE "x*" is NOT (a LIKE "x*"); a NOT LIKE "y*" is a negated LIKE.
    assert_parses!(r#"FROM x | WHERE NOT a LIKE "x*" OR a NOT LIKE "y*""#);
}

#[test]
fn in_and_not_in() {
    assert_parses!(r#"FROM x | WHERE a IN (1, 2, "three") AND b NOT IN (c, d + 1)"#);
}

#[test]
fn is_null_and_is_not_null() {
    assert_parses!("FROM x | WHERE a IS NULL OR b.c IS NOT NULL");
}

#[test]
fn function_calls() {
    assert_parses!(
        r#"ROW a = count(*), b = count(), c = COALESCE(x, "d"), d = To_Lower(concat(a, "-", b)), e = now()"#
    );
}

// ---------------------------------------------------------------------------------------------
// Processing commands
// ---------------------------------------------------------------------------------------------

#[test]
fn eval_named_and_unnamed() {
    // An unnamed column is named by its source text, parentheses and spacing included.
    assert_parses!("FROM x | EVAL y = a + 1, a  *  2, to_upper(b), (c), a.b = 1, `we ird` = 2");
}

#[test]
fn stats_with_aggregates_and_by() {
    assert_parses!(
        "FROM x | STATS c = count(*), max(bytes), avg = AVG(x) BY host.name, bucket = BUCKET(@timestamp, 1 hour)"
    );
}

#[test]
fn stats_by_only() {
    assert_parses!("FROM x | STATS BY a, b.c");
}

#[test]
fn sort_directions_and_nulls() {
    assert_parses!(
        "FROM x | SORT a, b ASC, c DESC, d NULLS FIRST, e DESC NULLS LAST, f ASC NULLS LAST | LIMIT 10"
    );
}

#[test]
fn keep_and_drop_patterns() {
    assert_parses!(
        "FROM x | KEEP @timestamp, azure.*, *name, `a b`, `x`*, a.`b c`.d | DROP *_tmp, `weird``tick`"
    );
}

#[test]
fn rename_both_syntaxes() {
    assert_parses!("FROM x | RENAME a AS b, c.d AS `e f` | RENAME new = old, `n 2` = o.p");
}

#[test]
fn mv_expand() {
    assert_parses!("FROM x | MV_EXPAND tags | MV_EXPAND `a.b` | mv_expand c.d");
}

#[test]
fn dissect_with_append_separator() {
    assert_parses!(
        r#"FROM x | DISSECT message "%{a} %{+a}" APPEND_SEPARATOR = "," | DISSECT to_lower(b) "%{c}""#
    );
}

#[test]
fn grok() {
    assert_parses!(
        r#"FROM x | GROK message "%{IP:client} %{WORD:method}" | GROK msg """%{NUMBER:n:int} "q" \d+""""#
    );
}

// ---------------------------------------------------------------------------------------------
// Lexical matters
// ---------------------------------------------------------------------------------------------

#[test]
fn triple_quoted_strings() {
    // No escapes inside; a run of more than three quotes closes at its last three.
    assert_parses!(
        r#"ROW a = """C:\path "quoted" \n""", b = """x"""", c = """""", d = "esc \" \\ \t""#
    );
}

// A command's span ends with its last token: WHERE is 42..66, LIMIT 76..83.
#[test]
fn line_and_block_comments() {
    assert_parses!(
        "FROM x // trailing\n| /* block\n comment */ WHERE a /* inline */ > 1 // end\n| LIMIT 5 /* last */"
    );
}

#[test]
fn time_span_literals() {
    assert_parses!(
        "ROW a = 1 hour, b = 30 minutes, c = 2 days, d = -1 hour, e = -3 months, f = 1 year, \
         g = 2 weeks, h = 500 ms, i = 1 quarter, j = 10 SECONDS"
    );
}

#[test]
fn array_literals() {
    assert_parses!(
        r#"ROW a = [1, 2, 3], b = ["x", "y"], c = [1.5, -2.5], d = [true, false], e = [7]"#
    );
}

#[test]
fn keywords_are_case_insensitive() {
    assert_parses!(
        r#"from X | wHeRe a Is NoT nUlL aNd b LiKe "x" Or c nOt In (1) | SoRt a dEsC nUlLs FiRsT | lImIt 5 | StAtS CoUnT(*) bY b"#
    );
}

#[test]
fn seed_rule_query() {
    // rules/esql/azure_openai_model_theft.toml, verbatim.
    assert_parses!(
        r#"from logs-azure_openai.logs-*
| where azure.open_ai.operation_name == "ListKey" and azure.open_ai.category == "Audit"
| KEEP @timestamp, azure.open_ai.operation_name , azure.open_ai.category, azure.resource.group, azure.resource.name, azure.open_ai.properties.response_length
| stats count = count(), max_data_transferred = max(azure.open_ai.properties.response_length) by azure.resource.group , azure.resource.name
| where count >= 100 or max_data_transferred >= 1000000
| sort count desc
"#
    );
}

#[test]
fn decimals_with_a_bare_dot_and_an_exponent() {
    // DIGIT+ (DOT DIGIT*)? EXPONENT: `1.e5` is 100000.0; `7.` is 7.0.
    assert_parses!("ROW a = 1.e5, b = 2.E-1, c = 7.");
}

#[test]
fn is_null_like_and_in_after_a_comparison() {
    // A comparison is a value expression, which IS NULL, LIKE and IN may follow.
    assert_parses!(r#"FROM x | WHERE a == b IS NULL OR (c > 1) IN (true) OR d != e NOT LIKE "x""#);
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

#[test]
fn error_unterminated_string() {
    assert_error!(r#"FROM x | WHERE a == "abc"#);
}

#[test]
fn error_unknown_command() {
    assert_error!("FROM x | WHER a > 1");
}

#[test]
fn error_unsupported_command() {
    assert_error!("FROM x\n| LOOKUP JOIN hosts ON host.name");
}

#[test]
fn error_missing_expression_at_end() {
    assert_error!("FROM x | WHERE a >  ");
}

#[test]
fn error_bad_cast_type() {
    assert_error!("ROW a = x::float");
}

#[test]
fn error_stray_character() {
    assert_error!("FROM x | WHERE a # 1");
}

#[test]
fn error_query_parameter() {
    assert_error!("FROM x | WHERE user == ?user");
}

#[test]
fn error_trailing_garbage_after_command() {
    assert_error!("FROM x | LIMIT 10 20");
}

#[test]
fn error_empty_from() {
    assert_error!("FROM   | LIMIT 1");
}

#[test]
fn error_bad_escape_in_string() {
    assert_error!(r#"ROW a = "C:\path""#);
}

#[test]
fn error_position_on_a_later_line() {
    assert_error!("FROM x\n| WHERE a ==\n| LIMIT 1");
}

#[test]
fn error_line_break_in_string() {
    assert_error!("ROW a = \"one\ntwo\"");
}

#[test]
fn error_column_counts_characters() {
    assert_error!(r#"ROW a = "héllo wörld", b = $"#);
}

#[test]
fn error_time_span_out_of_range() {
    assert_error!("ROW a = 2635249153387078803 weeks");
}

// The sign belongs to an integer literal, as in ES: `-2147483648` is an integer and
// `-9223372036854775808` (i64::MIN) a long.
#[test]
fn negative_integer_limits() {
    assert_parses!("ROW a = -2147483648, b = -9223372036854775808");
}

// ES accepts only flat arrays of one type of constant.
#[test]
fn array_literals_nested_mixed_or_empty_are_errors() {
    assert_error!("ROW a = [[1, 2], 3]");
    assert_error!(r#"ROW b = [1, "x"]"#);
    assert_error!("ROW c = []");
}

// ES's TRIPLE_QUOTED_STRING cannot hold a line break (`'"""' (~[\r\n])*? '"""'`).
#[test]
fn triple_quoted_string_with_line_break_is_an_error() {
    assert_error!("ROW a = \"\"\"one\ntwo\"\"\"");
}

// An unquoted index pattern ends where a comment starts (UNQUOTED_SOURCE_PART is `'/' ~[*/]`).
#[test]
fn from_pattern_followed_by_a_comment() {
    assert_parses!("FROM a/*c*/, b// c");
}
