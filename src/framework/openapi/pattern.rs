//! Turning a route's regular expression into OpenAPI path templates.
//!
//! Only the subset of regex syntax that describes fixed URL shapes is
//! understood: literals (escaped or not), groups, alternation `a|b`, the
//! optional `?`, the anchors, and named captures `(?P<name>…)`, which become
//! `{name}` whatever their content. Optional parts and alternations give one
//! template per combination. Anything else outside a named capture (`.`,
//! classes, `*`, `+`, repetitions) makes the pattern inexpressible: `None`.

/// A parsed pattern.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Lit(String),
    Param(String),
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    Opt(Box<Node>),
}

/// One template being built; `slash_at` marks where an optional `/` ended.
#[derive(Debug, Clone)]
struct Collector {
    text: String,
    slash_at: Option<usize>,
}

/// The templates of `pattern`, without leading `/`. A trailing optional `/`
/// (`keys/?`) is dropped, except on list routes, which keep the slash form
/// only (`keys/`).
pub(super) fn expand(pattern: &str, is_list: bool) -> Option<Vec<String>> {
    let mut parser = Parser {
        chars: pattern.chars().collect(),
        pos: 0,
    };
    let node = parser.alternation()?;
    if parser.pos != parser.chars.len() {
        return None;
    }
    let collectors = collect(
        &node,
        vec![Collector {
            text: String::new(),
            slash_at: None,
        }],
    );
    let ends_in_optional_slash = |c: &Collector| c.slash_at == Some(c.text.len());
    let slash_forms: Vec<&str> = collectors
        .iter()
        .filter(|c| ends_in_optional_slash(c))
        .map(|c| c.text.as_str())
        .collect();
    let mut out: Vec<String> = Vec::new();
    for c in &collectors {
        let keep = if ends_in_optional_slash(c) {
            is_list
        } else {
            !(is_list
                && slash_forms
                    .iter()
                    .any(|s| s.strip_suffix('/') == Some(&c.text)))
        };
        if keep && !out.contains(&c.text) {
            out.push(c.text.clone());
        }
    }
    Some(out)
}

/// The `{name}` parameters of a template, in order, without repeats.
pub(super) fn params(template: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let name = &rest[start + 1..start + len];
        if !out.iter().any(|n| n == name) {
            out.push(name.to_owned());
        }
        rest = &rest[start + len + 1..];
    }
    out
}

fn collect(node: &Node, mut acc: Vec<Collector>) -> Vec<Collector> {
    match node {
        Node::Lit(s) => {
            acc.iter_mut().for_each(|c| c.text.push_str(s));
            acc
        }
        Node::Param(name) => {
            acc.iter_mut()
                .for_each(|c| c.text.push_str(&format!("{{{name}}}")));
            acc
        }
        Node::Concat(parts) => parts.iter().fold(acc, |acc, part| collect(part, acc)),
        Node::Alt(options) => options
            .iter()
            .flat_map(|o| collect(o, acc.clone()))
            .collect(),
        Node::Opt(inner) => {
            let mut with = collect(inner, acc.clone());
            if **inner == Node::Lit("/".into()) {
                with.iter_mut()
                    .for_each(|c| c.slash_at = Some(c.text.len()));
            }
            acc.extend(with);
            acc
        }
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn alternation(&mut self) -> Option<Node> {
        let mut options = vec![self.concat()?];
        while self.eat('|') {
            options.push(self.concat()?);
        }
        Some(if options.len() == 1 {
            options.remove(0)
        } else {
            Node::Alt(options)
        })
    }

    fn concat(&mut self) -> Option<Node> {
        let mut parts = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom()?;
            parts.push(self.quantifier(atom)?);
        }
        Some(Node::Concat(parts))
    }

    fn quantifier(&mut self, atom: Node) -> Option<Node> {
        match self.peek() {
            Some('?') => {
                self.pos += 1;
                self.eat('?'); // lazy `??` matches the same strings
                Some(Node::Opt(Box::new(atom)))
            }
            Some('*' | '+' | '{') => None,
            _ => Some(atom),
        }
    }

    fn atom(&mut self) -> Option<Node> {
        let c = self.peek()?;
        self.pos += 1;
        match c {
            '(' => self.group(),
            '\\' => {
                let e = self.peek()?;
                self.pos += 1;
                match e {
                    'A' | 'z' | 'b' | 'B' => Some(Node::Lit(String::new())),
                    e if e.is_ascii_alphanumeric() => None,
                    e => Some(Node::Lit(e.to_string())),
                }
            }
            '^' | '$' => Some(Node::Lit(String::new())),
            '.' | '[' | '*' | '+' | '?' | '{' => None,
            c => Some(Node::Lit(c.to_string())),
        }
    }

    fn group(&mut self) -> Option<Node> {
        if self.eat('?') {
            if self.eat(':') {
                return self.group_body();
            }
            self.eat('P');
            if !self.eat('<') {
                return None; // flags such as (?i) change what matches
            }
            let start = self.pos;
            while self.peek()? != '>' {
                self.pos += 1;
            }
            let name: String = self.chars[start..self.pos].iter().collect();
            self.pos += 1;
            self.skip_to_group_end()?;
            return Some(Node::Param(name));
        }
        self.group_body()
    }

    fn group_body(&mut self) -> Option<Node> {
        let inner = self.alternation()?;
        self.eat(')').then_some(inner)
    }

    /// Skips a named capture's content, whatever it is, past its `)`.
    fn skip_to_group_end(&mut self) -> Option<()> {
        let mut depth = 1;
        while depth > 0 {
            let c = self.peek()?;
            self.pos += 1;
            match c {
                '\\' => self.pos += 1,
                '[' => self.skip_class()?,
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
        }
        Some(())
    }

    /// Skips a character class after its `[`.
    fn skip_class(&mut self) -> Option<()> {
        self.eat('^');
        self.eat(']'); // a leading ']' is literal
        loop {
            let c = self.peek()?;
            self.pos += 1;
            match c {
                '\\' => self.pos += 1,
                '[' => self.skip_class()?, // nested classes: [a[b]]
                ']' => return Some(()),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::path::generic_name_regex;

    #[test]
    fn expansions() {
        let name = generic_name_regex("name");
        let cases: Vec<(String, bool, Option<Vec<&str>>)> = vec![
            ("config".into(), false, Some(vec!["config"])),
            (format!("keys/{name}"), false, Some(vec!["keys/{name}"])),
            (
                format!("keys/{name}/rotate"),
                false,
                Some(vec!["keys/{name}/rotate"]),
            ),
            ("keys/?".into(), true, Some(vec!["keys/"])),
            ("keys/?".into(), false, Some(vec!["keys"])),
            ("keys/?$".into(), true, Some(vec!["keys/"])),
            (
                format!("keys/{name}/versions/?"),
                true,
                Some(vec!["keys/{name}/versions/"]),
            ),
            ("a(/b)?".into(), false, Some(vec!["a", "a/b"])),
            ("a/(b|c)".into(), false, Some(vec!["a/b", "a/c"])),
            ("(?:x|y)z".into(), false, Some(vec!["xz", "yz"])),
            ("a\\.b".into(), false, Some(vec!["a.b"])),
            ("(?P<p>[a-z)]+(x))/end".into(), false, Some(vec!["{p}/end"])),
            ("".into(), false, Some(vec![""])),
            (".*".into(), false, None),
            ("a+".into(), false, None),
            ("[ab]".into(), false, None),
            ("a{2}".into(), false, None),
            ("(?i)a".into(), false, None),
            ("\\w".into(), false, None),
            ("(a".into(), false, None),
            ("a)".into(), false, None),
        ];
        for (pattern, list, want) in cases {
            let want = want.map(|v| v.into_iter().map(String::from).collect::<Vec<_>>());
            assert_eq!(expand(&pattern, list), want, "{pattern}");
        }
    }

    #[test]
    fn params_in_order() {
        assert_eq!(params("keys/{name}/v/{version}"), ["name", "version"]);
        assert!(params("config").is_empty());
    }
}
