//! Maps between places in a TOML source and field paths such as `configure[1].mode`.
//! serde errors come with a byte span but no path; our own validation knows the path but
//! not the span. Both are answered from one span-preserving parse of the same source.

use std::ops::Range;

use toml_edit::{ImDocument, Item, Table, Value};

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

pub fn key(k: &str) -> Seg {
    Seg::Key(k.to_owned())
}

pub fn render(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

pub struct Locator {
    doc: Option<ImDocument<String>>,
}

impl Locator {
    pub fn new(source: &str) -> Self {
        Locator {
            doc: ImDocument::parse(source.to_owned()).ok(),
        }
    }

    /// The span of the value at `path`, or of the closest enclosing item that has one.
    pub fn span_of(&self, path: &[Seg]) -> Option<Range<usize>> {
        self.spans(path).0
    }

    /// The span of the key that names the last step of `path`, when it exists as written.
    pub fn key_span_of(&self, path: &[Seg]) -> Option<Range<usize>> {
        self.spans(path).1
    }

    fn spans(&self, path: &[Seg]) -> (Option<Range<usize>>, Option<Range<usize>>) {
        let Some(doc) = self.doc.as_ref() else {
            return (None, None);
        };
        let mut best = None;
        let mut last_key = None;
        let mut item: Node = Node::Item(doc.as_item());
        for seg in path {
            let (next, key_span) = match (item, seg) {
                (Node::Item(Item::Table(t)), Seg::Key(k)) => table_child(t, k),
                (Node::Item(Item::Value(v)) | Node::Value(v), Seg::Key(k)) => match v {
                    Value::InlineTable(t) => match t.get_key_value(k) {
                        Some((key, Item::Value(v))) => (Some(Node::Value(v)), key.span()),
                        Some((key, _)) => (None, key.span()),
                        None => (None, None),
                    },
                    _ => (None, None),
                },
                (Node::Item(Item::ArrayOfTables(a)), Seg::Index(i)) => {
                    let t = a.get(*i);
                    (t.map(Node::Table), t.and_then(|t| t.span()))
                }
                (Node::Table(t), Seg::Key(k)) => table_child(t, k),
                (
                    Node::Item(Item::Value(Value::Array(a))) | Node::Value(Value::Array(a)),
                    Seg::Index(i),
                ) => {
                    let v = a.get(*i);
                    (v.map(Node::Value), v.and_then(|v| v.span()))
                }
                _ => (None, None),
            };
            last_key = None;
            if key_span.is_some() {
                best = key_span.clone();
                last_key = key_span;
            }
            match next {
                Some(n) => {
                    if let Some(s) = n.span() {
                        best = Some(s);
                    }
                    item = n;
                }
                None => return (best, None),
            }
        }
        (best, last_key)
    }

    /// The path of the deepest key whose key or value contains `offset`.
    pub fn path_at(&self, offset: usize) -> Vec<Seg> {
        let mut path = Vec::new();
        if let Some(doc) = &self.doc {
            walk_table(doc.as_table(), offset, &mut path);
        }
        path
    }
}

#[derive(Clone, Copy)]
enum Node<'a> {
    Item(&'a Item),
    Table(&'a Table),
    Value(&'a Value),
}

impl Node<'_> {
    fn span(&self) -> Option<Range<usize>> {
        match self {
            Node::Item(Item::Value(v)) => v.span(),
            Node::Value(v) => v.span(),
            // Table spans cover only their header, which is a fine place to point at.
            Node::Item(i) => i.span(),
            Node::Table(t) => t.span(),
        }
    }
}

fn table_child<'a>(t: &'a Table, k: &str) -> (Option<Node<'a>>, Option<Range<usize>>) {
    match t.get_key_value(k) {
        Some((key, item)) => (Some(Node::Item(item)), key.span()),
        None => (None, None),
    }
}

fn contains(span: Option<Range<usize>>, offset: usize) -> bool {
    span.is_some_and(|s| s.start <= offset && offset < s.end.max(s.start + 1))
}

fn walk_table(t: &Table, offset: usize, path: &mut Vec<Seg>) -> bool {
    for (k, item) in t.iter() {
        let key_span = t.key(k).and_then(|key| key.span());
        path.push(Seg::Key(k.to_owned()));
        if contains(key_span, offset) {
            return true;
        }
        match item {
            Item::Table(sub) => {
                if walk_table(sub, offset, path) || contains(sub.span(), offset) {
                    return true;
                }
            }
            Item::ArrayOfTables(a) => {
                for (i, sub) in a.iter().enumerate() {
                    path.push(Seg::Index(i));
                    if walk_table(sub, offset, path) || contains(sub.span(), offset) {
                        return true;
                    }
                    path.pop();
                }
            }
            Item::Value(v) => {
                if walk_value(v, offset, path) {
                    return true;
                }
            }
            Item::None => {}
        }
        path.pop();
    }
    false
}

fn walk_value(v: &Value, offset: usize, path: &mut Vec<Seg>) -> bool {
    match v {
        Value::InlineTable(t) => {
            for (k, v) in t.iter() {
                path.push(Seg::Key(k.to_owned()));
                if contains(t.key(k).and_then(|key| key.span()), offset)
                    || walk_value(v, offset, path)
                {
                    return true;
                }
                path.pop();
            }
            contains(v.span(), offset)
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                path.push(Seg::Index(i));
                if walk_value(v, offset, path) {
                    return true;
                }
                path.pop();
            }
            contains(v.span(), offset)
        }
        _ => contains(v.span(), offset),
    }
}
