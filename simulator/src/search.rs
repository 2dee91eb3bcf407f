//! Search API (`GET /api/v1/search/query?query=...`, `/policy/api/v1/search/query`).
//!
//! Supported query language (the subset clients use, Lucene-like):
//! `field:value` with dotted fields (`tags.scope:ncp\/cluster`), bare values (match any field),
//! `AND` / `OR` / `NOT` (also `&&`, `||`, `!`), parentheses, quoted phrases (`"a b"`), wildcards `*`
//! and `?`, and backslash escapes. Adjacent terms without an operator are combined with AND.
//! Values compare case-insensitively. An array field matches when any element matches, so
//! `tags.scope:a AND tags.tag:b` matches an object having scope `a` on one tag and value `b` on any
//! tag, as NSX's flattened index does. Cursors are numeric strings (offsets); `result_count` is set
//! on the first page only; `page_size` is 0..=1000.

use serde_json::{Value, json};

use crate::api::{ApiError, ApiResult, Reply, Req, page_params};
use crate::state::State;
use crate::store::KINDS;

#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    Term {
        field: Option<String>,
        /// (char, escaped)
        pattern: Vec<(char, bool)>,
    },
    And(Box<Query>, Box<Query>),
    Or(Box<Query>, Box<Query>),
    Not(Box<Query>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Word(Vec<(char, bool)>, bool),
}

fn tokenize(q: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = q.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '(' {
            out.push(Tok::LParen);
            i += 1;
            continue;
        }
        if c == ')' {
            out.push(Tok::RParen);
            i += 1;
            continue;
        }
        if c == '&' && chars.get(i + 1) == Some(&'&') {
            out.push(Tok::And);
            i += 2;
            continue;
        }
        if c == '|' && chars.get(i + 1) == Some(&'|') {
            out.push(Tok::Or);
            i += 2;
            continue;
        }
        if c == '!' {
            out.push(Tok::Not);
            i += 1;
            continue;
        }
        // A word: runs until whitespace or a paren; quotes may appear (e.g. field:"a b").
        let mut w: Vec<(char, bool)> = Vec::new();
        let mut quoted_any = false;
        while i < chars.len() {
            let c = chars[i];
            if c == '\\' {
                let n = chars.get(i + 1).ok_or("query ends with a lone backslash")?;
                w.push((*n, true));
                i += 2;
                continue;
            }
            if c == '"' {
                quoted_any = true;
                i += 1;
                loop {
                    let Some(&c) = chars.get(i) else {
                        return Err("unterminated quoted phrase".into());
                    };
                    if c == '\\' {
                        let n = chars.get(i + 1).ok_or("query ends with a lone backslash")?;
                        w.push((*n, true));
                        i += 2;
                        continue;
                    }
                    i += 1;
                    if c == '"' {
                        break;
                    }
                    // Inside quotes wildcards are literal, except the field separator stays literal too.
                    w.push((c, true));
                }
                continue;
            }
            if c.is_whitespace() || c == '(' || c == ')' {
                break;
            }
            w.push((c, false));
            i += 1;
        }
        let plain: String = w.iter().map(|(c, _)| *c).collect();
        let all_plain = w.iter().all(|(_, e)| !e);
        match (plain.as_str(), all_plain && !quoted_any) {
            ("AND", true) => out.push(Tok::And),
            ("OR", true) => out.push(Tok::Or),
            ("NOT", true) => out.push(Tok::Not),
            _ => out.push(Tok::Word(w, quoted_any)),
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn or(&mut self) -> Result<Query, String> {
        let mut left = self.and()?;
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            let right = self.and()?;
            left = Query::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Query, String> {
        let mut left = self.unary()?;
        loop {
            match self.peek() {
                Some(Tok::And) => {
                    self.pos += 1;
                    let right = self.unary()?;
                    left = Query::And(Box::new(left), Box::new(right));
                }
                Some(Tok::Word(..)) | Some(Tok::Not) | Some(Tok::LParen) => {
                    let right = self.unary()?;
                    left = Query::And(Box::new(left), Box::new(right));
                }
                _ => return Ok(left),
            }
        }
    }

    fn unary(&mut self) -> Result<Query, String> {
        match self.toks.get(self.pos).cloned() {
            Some(Tok::Not) => {
                self.pos += 1;
                Ok(Query::Not(Box::new(self.unary()?)))
            }
            Some(Tok::LParen) => {
                self.pos += 1;
                let q = self.or()?;
                if self.peek() != Some(&Tok::RParen) {
                    return Err("missing closing parenthesis".into());
                }
                self.pos += 1;
                Ok(q)
            }
            Some(Tok::Word(w, _)) => {
                self.pos += 1;
                // Split at the first unescaped ':'.
                match w.iter().position(|(c, e)| *c == ':' && !e) {
                    Some(i) => {
                        let field: String = w[..i].iter().map(|(c, _)| *c).collect();
                        if field.is_empty() {
                            return Err("empty field name before ':'".into());
                        }
                        let pattern = w[i + 1..].to_vec();
                        if pattern.is_empty() {
                            return Err(format!("field {field} has no value"));
                        }
                        Ok(Query::Term {
                            field: Some(field),
                            pattern,
                        })
                    }
                    None => Ok(Query::Term {
                        field: None,
                        pattern: w,
                    }),
                }
            }
            Some(Tok::RParen) => Err("unexpected ')'".into()),
            Some(Tok::And) | Some(Tok::Or) => Err("operator without a left operand".into()),
            None => Err("query ends unexpectedly".into()),
        }
    }
}

pub fn parse(q: &str) -> Result<Query, String> {
    let toks = tokenize(q)?;
    if toks.is_empty() {
        return Err("empty query".into());
    }
    let mut p = Parser { toks, pos: 0 };
    let out = p.or()?;
    if p.pos != p.toks.len() {
        return Err("unexpected token after the end of the query".into());
    }
    Ok(out)
}

/// Case-insensitive (ASCII) wildcard match; escaped characters are literal. Works on bytes, so
/// `?` matches one byte (one character for ASCII text, which is what NSX names and tags are).
fn pattern_match(pattern: &[(char, bool)], text: &str) -> bool {
    // Fast path: no unescaped wildcard.
    if !pattern.iter().any(|(c, e)| !e && (*c == '*' || *c == '?')) {
        let mut chars = text.chars();
        for (pc, _) in pattern {
            match chars.next() {
                Some(tc) if tc.eq_ignore_ascii_case(pc) => {}
                _ => return false,
            }
        }
        return chars.next().is_none();
    }
    let p = pattern;
    let t = text.as_bytes();
    let lit = |pc: char, tb: u8| pc.is_ascii() && (pc as u8).eq_ignore_ascii_case(&tb);
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<usize> = None;
    let mut mark = 0usize;
    while ti < t.len() {
        if pi < p.len()
            && ((p[pi].0 == '?' && !p[pi].1)
                || ((p[pi].1 || p[pi].0 != '*') && lit(p[pi].0, t[ti])))
        {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi].0 == '*' && !p[pi].1 {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi].0 == '*' && !p[pi].1 {
        pi += 1;
    }
    pi == p.len()
}

fn leaf_matches(v: &Value, pattern: &[(char, bool)]) -> bool {
    match v {
        Value::String(s) => pattern_match(pattern, s),
        Value::Number(n) => pattern_match(pattern, &n.to_string()),
        Value::Bool(b) => pattern_match(pattern, if *b { "true" } else { "false" }),
        Value::Array(a) => a.iter().any(|x| leaf_matches(x, pattern)),
        _ => false,
    }
}

fn path_matches(v: &Value, path: &[&str], pattern: &[(char, bool)]) -> bool {
    match v {
        Value::Array(a) => a.iter().any(|x| path_matches(x, path, pattern)),
        Value::Object(m) => match path.split_first() {
            None => false,
            Some((first, rest)) => match m.get(*first) {
                None => false,
                Some(child) if rest.is_empty() => leaf_matches(child, pattern),
                Some(child) => path_matches(child, rest, pattern),
            },
        },
        _ => path.is_empty() && leaf_matches(v, pattern),
    }
}

fn any_leaf(v: &Value, pattern: &[(char, bool)]) -> bool {
    match v {
        Value::Object(m) => m.values().any(|x| any_leaf(x, pattern)),
        Value::Array(a) => a.iter().any(|x| any_leaf(x, pattern)),
        other => leaf_matches(other, pattern),
    }
}

pub fn eval(q: &Query, obj: &Value) -> bool {
    match q {
        Query::Term { field, pattern } => match field {
            Some(f) => {
                let path: Vec<&str> = f.split('.').collect();
                path_matches(obj, &path, pattern)
            }
            None => any_leaf(obj, pattern),
        },
        Query::And(a, b) => eval(a, obj) && eval(b, obj),
        Query::Or(a, b) => eval(a, obj) || eval(b, obj),
        Query::Not(a) => !eval(a, obj),
    }
}

fn search_error(msg: String) -> ApiError {
    ApiError::new(400, 60516, "search", format!("Invalid search query: {msg}"))
}

/// Where a hit lives: an MP collection (index into KINDS; KINDS.len() = firewall sections) or a
/// Policy path.
#[derive(Debug, Clone)]
pub enum Hit {
    Mp(usize, String),
    Policy(String),
}

/// Hits of the last query, reused while a client pages through it (invalidated by any change).
#[derive(Debug, Clone)]
pub struct SearchCache {
    key: String,
    generation: u64,
    hits: Vec<Hit>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Source {
    Manager,
    Policy,
}

fn resolve<'a>(st: &'a State, h: &Hit) -> Option<&'a Value> {
    match h {
        Hit::Mp(i, id) if *i < KINDS.len() => st.mp.coll(KINDS[*i].key)?.get(id),
        Hit::Mp(_, id) => st.mp.firewall.sections.get(id),
        Hit::Policy(p) => st.policy.get(p),
    }
}

fn sort_key(v: &Value, field: &str) -> String {
    match v.get(field) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => format!("{n:>24}"),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

fn compute_hits(
    st: &State,
    source: Source,
    query: &Query,
    sort_by: Option<&str>,
    desc: bool,
) -> Vec<Hit> {
    let mut hits: Vec<(Hit, &Value)> = Vec::new();
    match source {
        Source::Manager => {
            for (i, k) in KINDS.iter().enumerate() {
                if let Some(c) = st.mp.coll(k.key) {
                    for id in &c.order {
                        if let Some(o) = c.get(id)
                            && eval(query, o)
                        {
                            hits.push((Hit::Mp(i, id.clone()), o));
                        }
                    }
                }
            }
            let fw = &st.mp.firewall.sections;
            for id in &fw.order {
                if let Some(o) = fw.get(id)
                    && eval(query, o)
                {
                    hits.push((Hit::Mp(KINDS.len(), id.clone()), o));
                }
            }
        }
        Source::Policy => {
            for (p, o) in &st.policy {
                if eval(query, o) {
                    hits.push((Hit::Policy(p.clone()), o));
                }
            }
        }
    }
    if let Some(f) = sort_by {
        hits.sort_by_cached_key(|(_, o)| sort_key(o, f));
        if desc {
            hits.reverse();
        }
    }
    hits.into_iter().map(|(h, _)| h).collect()
}

/// Run a search and build the response page.
pub fn run(st: &mut State, req: &Req, source: Source) -> ApiResult {
    let q = req
        .q("query")
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("Parameter query is required."))?;
    let query = parse(q).map_err(search_error)?;
    let (off, size) = page_params(req.q("cursor"), req.q("page_size"))?;
    let sort_by = req.q("sort_by");
    let desc = req.q("sort_ascending") == Some("false");
    let key = format!(
        "{source:?}\u{1}{q}\u{1}{}\u{1}{desc}",
        sort_by.unwrap_or("")
    );
    let fresh = st
        .search_cache
        .as_ref()
        .is_some_and(|c| c.key == key && c.generation == st.generation);
    if !fresh {
        let hits = compute_hits(st, source, &query, sort_by, desc);
        st.search_cache = Some(SearchCache {
            key,
            generation: st.generation,
            hits,
        });
    }
    let hits = st
        .search_cache
        .as_ref()
        .map(|c| c.hits.as_slice())
        .unwrap_or(&[]);
    let total = hits.len();
    let start = off.min(total);
    let end = off.saturating_add(size).min(total);
    let results: Vec<&Value> = hits[start..end]
        .iter()
        .filter_map(|h| resolve(st, h))
        .collect();
    let cursor = (end < total).then(|| end.to_string());
    if sort_by.is_none() {
        return Ok(crate::api::page_reply(
            &results,
            (off == 0).then_some(total),
            cursor,
        ));
    }
    let mut out = json!({ "results": results });
    if off == 0 {
        out["result_count"] = json!(total);
    }
    if let Some(c) = cursor {
        out["cursor"] = json!(c);
    }
    if let Some(s) = sort_by {
        out["sort_by"] = json!(s);
        out["sort_ascending"] = json!(!desc);
    }
    Ok(Reply::json(out))
}

pub fn search_mp(st: &mut State, req: &Req) -> ApiResult {
    run(st, req, Source::Manager)
}
