//! Escaping values for NSX's search API query strings.

/// Escape `value` so that NSX's search API (`GET /api/v1/search/query?query=...` and
/// `/policy/api/v1/search/query`) reads it as one literal term, e.g. in
/// `format!("display_name:{}", search_escape(name))`.
///
/// NSX parses `query` with the Lucene/Elasticsearch query-string syntax. This puts a backslash
/// before every character that syntax reserves, so that no part of a value (an object name, an
/// id, a tag) can become an operator, a range, a wildcard, a regular expression, a boost, a
/// field separator or a term break:
///
/// * `+ - = & | > < ! ( ) { } [ ] ^ " ~ * ? : \ /`: the reserved characters Elasticsearch
///   documents for `query_string` (`&&` and `||` are operators, so `&` and `|` are escaped
///   wherever they occur, as Lucene's own `QueryParser.escape` does; `/` starts a regular
///   expression, `=`, `<` and `>` write ranges such as `>=10`);
/// * every whitespace character (`char::is_whitespace`, including U+3000, which Lucene's
///   grammar also treats as a separator): unescaped, `a b` would be two terms;
/// * a value that is exactly `AND`, `OR` or `NOT` gets its first letter escaped (`\AND`): the
///   bare word is an operator, the escaped one the literal term.
///
/// One limit no escaping lifts: Elasticsearch documents that `<` and `>` "can't be escaped at
/// all" in `query_string`, because it looks for `>`, `>=`, `<`, `<=` at the start of a term
/// after unescaping it. Inside a value they are harmless once escaped; a value that *starts*
/// with one may still be read as an open range by an Elasticsearch-backed search, so a caller
/// searching for such a value should not rely on the search alone (e.g. search by another field
/// and compare the value itself).
///
/// Everything else, including any non-ASCII character, is copied unchanged: those are ordinary
/// term characters, and escaping them gains nothing. The result is not URL-encoded; put it in a
/// request with [`crate::Request::query`] (or [`crate::NsxClient::search_all`]), which encodes
/// it. An empty value stays empty: there is no literal empty term in this syntax, so the caller
/// has to handle it.
///
/// ```
/// assert_eq!(client::search_escape("ncp/cluster"), r"ncp\/cluster");
/// assert_eq!(client::search_escape("web (prod) & db"), r"web\ \(prod\)\ \&\ db");
/// assert_eq!(client::search_escape("déjà-vu"), r"déjà\-vu");
/// ```
pub fn search_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    if matches!(value, "AND" | "OR" | "NOT") {
        out.push('\\');
    }
    for c in value.chars() {
        if is_reserved(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn is_reserved(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '+' | '-'
                | '='
                | '&'
                | '|'
                | '>'
                | '<'
                | '!'
                | '('
                | ')'
                | '{'
                | '}'
                | '['
                | ']'
                | '^'
                | '"'
                | '~'
                | '*'
                | '?'
                | ':'
                | '\\'
                | '/'
        )
}

#[cfg(test)]
mod tests {
    use super::search_escape;

    #[test]
    fn every_reserved_character_is_escaped() {
        for c in "+-=&|><!(){}[]^\"~*?:\\/".chars() {
            assert_eq!(search_escape(&c.to_string()), format!("\\{c}"), "{c}");
        }
        assert_eq!(
            search_escape(r#"a+b-c=d&&e||f>g<h!i(j)k{l}m[n]o^p"q~r*s?t:u\v/w"#),
            r#"a\+b\-c\=d\&\&e\|\|f\>g\<h\!i\(j\)k\{l\}m\[n\]o\^p\"q\~r\*s\?t\:u\\v\/w"#
        );
    }

    #[test]
    fn whitespace_is_escaped() {
        assert_eq!(search_escape("a b"), r"a\ b");
        assert_eq!(search_escape("a\tb\nc\rd"), "a\\\tb\\\nc\\\rd");
        // Ideographic space (3 bytes in UTF-8) and no-break space.
        assert_eq!(search_escape("a\u{3000}b"), "a\\\u{3000}b");
        assert_eq!(search_escape("a\u{a0}b"), "a\\\u{a0}b");
        assert_eq!(search_escape("  "), r"\ \ ");
    }

    #[test]
    fn ordinary_characters_are_kept() {
        for v in [
            "",
            "abcXYZ019",
            "ipset",
            "a.b_c@d#e$f%g,h;i'j`k",
            "0f3e7c1a_9b2d",
        ] {
            assert_eq!(search_escape(v), v);
        }
    }

    #[test]
    fn multi_byte_characters_are_kept_whole() {
        assert_eq!(search_escape("déjà-vu"), r"déjà\-vu");
        assert_eq!(search_escape("東京/大阪"), r"東京\/大阪");
        assert_eq!(search_escape("名前 (テスト)"), r"名前\ \(テスト\)");
        assert_eq!(search_escape("🦀:🦀"), r"🦀\:🦀");
        // Combining marks and other non-ASCII symbols are term characters.
        assert_eq!(search_escape("e\u{301}«»€"), "e\u{301}«»€");
    }

    #[test]
    fn operator_words_become_literal_terms() {
        assert_eq!(search_escape("AND"), r"\AND");
        assert_eq!(search_escape("OR"), r"\OR");
        assert_eq!(search_escape("NOT"), r"\NOT");
        // Only the bare words are operators: inside a longer term or lower case they are not.
        assert_eq!(search_escape("and"), "and");
        assert_eq!(search_escape("ANDROID"), "ANDROID");
        assert_eq!(search_escape("A AND B"), r"A\ AND\ B");
    }

    #[test]
    fn unescaping_gives_the_value_back() {
        // Every escape is a backslash before the character it protects.
        let unescape = |s: &str| {
            let mut out = String::new();
            let mut it = s.chars();
            while let Some(c) = it.next() {
                out.push(if c == '\\' { it.next().unwrap() } else { c });
            }
            out
        };
        for v in [
            "",
            r"a\b",
            "x y\t(z)",
            "東京 && 大阪 || NOT",
            "AND",
            "\\\"",
            "ü=1/2",
        ] {
            assert_eq!(unescape(&search_escape(v)), v, "{v}");
        }
    }
}
