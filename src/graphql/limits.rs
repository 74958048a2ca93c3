//! Bounds on a GraphQL document, checked before anything else walks it so that a hostile
//! document costs little: its size in tokens (before parsing), then its aliases and the number
//! of fields it selects once every fragment is expanded (a fragment "bomb" that spreads
//! fragments into each other is measured without expanding it). They run when the request is
//! prepared: async-graphql's own recursion-depth and directive checks, which follow every
//! spread, would take time exponential in the size of a bomb. Depth and complexity are
//! async-graphql's own checks; these run first and apply to HTTP and WebSocket requests alike.

use async_graphql::parser::types::{
    ExecutableDocument, FragmentDefinition, Selection, SelectionSet,
};
use async_graphql::{Name, Pos, Positioned, Request, ServerError, ServerResult};
use std::collections::HashMap;
use std::sync::Arc;

pub const LIMIT_EXCEEDED: &str = "LIMIT_EXCEEDED";

/// The document bounds a server enforces.
#[derive(Clone, Copy, Debug)]
pub struct DocumentBounds {
    /// Most lexical tokens (names, punctuators, values) a document may have.
    pub max_tokens: usize,
    /// Most aliased fields.
    pub max_aliases: usize,
    /// Most fields selected with every fragment expanded.
    pub max_fields: usize,
}

fn refused(limit: &'static str, message: String) -> ServerError {
    let mut err = ServerError::new(message, None);
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set("code", LIMIT_EXCEEDED);
    extensions.set("limit", limit);
    err.extensions = Some(extensions);
    err
}

/// Checks `request`'s document against `bounds`, parsing it once (the parsed document stays in
/// the request, so the schema does not parse it again).
pub fn check_document(request: &mut Request, bounds: DocumentBounds) -> ServerResult<()> {
    if count_tokens(&request.query, bounds.max_tokens) > bounds.max_tokens {
        return Err(refused(
            "tokens",
            format!("the document has more than {} tokens", bounds.max_tokens),
        ));
    }
    let shape = measure(request.parsed_query()?, bounds.max_fields);
    if let Some((name, pos)) = shape.unknown_fragment {
        // Validation would refuse it too, but only after the walks this check protects:
        // a bomb of spreads to a missing fragment selects no field at all.
        return Err(ServerError::new(
            format!("Unknown fragment \"{name}\"."),
            Some(pos),
        ));
    }
    if shape.aliases > bounds.max_aliases {
        return Err(refused(
            "aliases",
            format!(
                "the document has {} aliases; at most {} are allowed",
                shape.aliases, bounds.max_aliases
            ),
        ));
    }
    if shape.fields > bounds.max_fields {
        return Err(refused(
            "fields",
            format!(
                "the document selects more than {} fields once its fragments are expanded",
                bounds.max_fields
            ),
        ));
    }
    Ok(())
}

/// Counts the document's lexical tokens (GraphQL spec, "Lexical Tokens"), stopping once past
/// `stop_after`. Whitespace, commas and comments are ignored, as the spec does.
pub fn count_tokens(source: &str, stop_after: usize) -> usize {
    let bytes = source.as_bytes();
    let mut i = 0;
    let mut tokens = 0;
    while i < bytes.len() && tokens <= stop_after {
        match bytes[i] {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => i += 1,
            // A byte-order mark.
            0xEF if bytes[i..].starts_with(&[0xEF, 0xBB, 0xBF]) => i += 3,
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                i += 3;
                tokens += 1;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                tokens += 1;
            }
            b'.' if bytes[i..].starts_with(b"...") => {
                i += 3;
                tokens += 1;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' || c == b'-' => {
                // A name or a number (with its sign, fraction and exponent).
                i += 1;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric()
                        || bytes[i] == b'_'
                        || (bytes[i] == b'.' && !bytes[i..].starts_with(b"..."))
                        || ((bytes[i] == b'+' || bytes[i] == b'-')
                            && matches!(bytes[i - 1], b'e' | b'E')))
                {
                    i += 1;
                }
                tokens += 1;
            }
            // A punctuator, or a character the parser will refuse: one token either way.
            _ => {
                i += 1;
                tokens += 1;
            }
        }
    }
    tokens
}

/// What [`measure`] finds.
#[derive(Debug, PartialEq, Eq)]
pub struct Shape {
    pub aliases: usize,
    /// Fields selected with fragments expanded, saturating just past the bound.
    pub fields: usize,
    /// The first spread of a fragment the document does not define.
    pub unknown_fragment: Option<(String, Pos)>,
}

/// Counts the document's aliases, and the fields it selects with every fragment spread
/// expanded. Each fragment is measured once (memoised), so a fragment bomb costs time linear in
/// the document; a fragment cycle counts as over the bound (validation refuses it anyway).
pub fn measure(document: &ExecutableDocument, bound: usize) -> Shape {
    let mut walker = Walker {
        fragments: &document.fragments,
        sizes: HashMap::new(),
        bound,
        aliases: 0,
        unknown_fragment: None,
    };
    let mut fields = 0usize;
    for (_, operation) in document.operations.iter() {
        fields = fields.saturating_add(walker.selection_set(&operation.node.selection_set.node, 0));
    }
    // Aliases inside fragments count once per definition: the document's own text.
    for fragment in document.fragments.values() {
        walker.count_aliases(&fragment.node.selection_set.node);
    }
    for (_, operation) in document.operations.iter() {
        walker.count_aliases(&operation.node.selection_set.node);
    }
    Shape {
        aliases: walker.aliases,
        fields: fields.min(bound.saturating_add(1)),
        unknown_fragment: walker.unknown_fragment,
    }
}

struct Walker<'a> {
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    /// Expanded size of each fragment measured so far; `None` while being measured (a cycle).
    sizes: HashMap<&'a str, Option<usize>>,
    bound: usize,
    aliases: usize,
    unknown_fragment: Option<(String, Pos)>,
}

impl<'a> Walker<'a> {
    fn selection_set(&mut self, set: &'a SelectionSet, depth: usize) -> usize {
        // Nesting deeper than this is refused by the parser and the depth limit long before.
        if depth > 256 {
            return self.bound.saturating_add(1);
        }
        let mut total = 0usize;
        for selection in &set.items {
            let size = match &selection.node {
                Selection::Field(field) => 1usize
                    .saturating_add(self.selection_set(&field.node.selection_set.node, depth + 1)),
                Selection::InlineFragment(fragment) => {
                    self.selection_set(&fragment.node.selection_set.node, depth + 1)
                }
                Selection::FragmentSpread(spread) => {
                    self.fragment(&spread.node.fragment_name, depth)
                }
            };
            total = total.saturating_add(size);
            if total > self.bound {
                return total;
            }
        }
        total
    }

    fn fragment(&mut self, spread: &'a Positioned<Name>, depth: usize) -> usize {
        let name = spread.node.as_str();
        match self.sizes.get(name) {
            Some(Some(size)) => return *size,
            Some(None) => return self.bound.saturating_add(1),
            None => {}
        }
        let Some((key, definition)) = self.fragments.get_key_value(name) else {
            if self.unknown_fragment.is_none() {
                self.unknown_fragment = Some((name.to_owned(), spread.pos));
            }
            return 0;
        };
        self.sizes.insert(key.as_str(), None);
        let size = self.selection_set(&definition.node.selection_set.node, depth + 1);
        self.sizes.insert(key.as_str(), Some(size));
        size
    }

    fn count_aliases(&mut self, set: &SelectionSet) {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    if field.node.alias.is_some() {
                        self.aliases += 1;
                    }
                    self.count_aliases(&field.node.selection_set.node);
                }
                Selection::InlineFragment(fragment) => {
                    self.count_aliases(&fragment.node.selection_set.node)
                }
                Selection::FragmentSpread(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;

    #[test]
    fn tokens_are_counted_as_the_spec_defines_them() {
        assert_eq!(count_tokens("{ a }", 100), 3);
        assert_eq!(
            count_tokens("query Q($n: Int = -1.5e+3) { a(n: $n), b }", 100),
            20
        );
        assert_eq!(count_tokens("# a comment\n{ a(s: \"x, y\") }", 100), 8);
        assert_eq!(
            count_tokens("{ a(s: \"\"\"block \\\"\"\" text\"\"\") ...F }", 100),
            10
        );
        // Counting stops past the bound.
        assert_eq!(count_tokens(&"{ a }".repeat(1000), 10), 11);
    }

    #[test]
    fn fragment_bombs_are_measured_without_expanding_them() {
        let mut doc = String::from("query { ...F0 }\n");
        for i in 0..60 {
            doc.push_str(&format!(
                "fragment F{i} on Query {{ ...F{} ...F{} }}\n",
                i + 1,
                i + 1
            ));
        }
        doc.push_str("fragment F60 on Query { organization { name } }\n");
        let document = parse_query(&doc).expect("parses");
        let shape = measure(&document, 1_000);
        assert_eq!(shape.fields, 1_001);
    }

    #[test]
    fn aliases_and_fields_are_counted() {
        let document = parse_query(
            "query { a: organization { name } b: organization { n: name } ...F }
             fragment F on Query { c: products { key } }",
        )
        .expect("parses");
        assert_eq!(
            measure(&document, 1_000),
            Shape {
                aliases: 4,
                fields: 6,
                unknown_fragment: None,
            }
        );
    }

    #[test]
    fn spreads_of_unknown_fragments_are_reported() {
        let document =
            parse_query("query { ...A } fragment A on Query { ...Nope ...Nope }").expect("parses");
        let shape = measure(&document, 50);
        assert_eq!(shape.fields, 0);
        assert_eq!(
            shape.unknown_fragment.map(|(name, _)| name).as_deref(),
            Some("Nope")
        );
    }

    #[test]
    fn fragment_cycles_count_as_over_the_bound() {
        let document =
            parse_query("query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }")
                .expect("parses");
        assert_eq!(measure(&document, 50).fields, 51);
    }
}

/// The subscriptions one WebSocket connection may still open; each open subscription holds a
/// permit until its stream ends.
#[derive(Clone)]
pub struct SubscriptionSlots {
    permits: Arc<tokio::sync::Semaphore>,
    max: usize,
}

impl SubscriptionSlots {
    pub fn new(max: usize) -> Self {
        Self {
            permits: Arc::new(tokio::sync::Semaphore::new(max)),
            max,
        }
    }

    /// A permit for one more subscription, or the error to send instead.
    pub fn acquire(&self) -> async_graphql::Result<tokio::sync::OwnedSemaphorePermit> {
        self.permits.clone().try_acquire_owned().map_err(|_| {
            use async_graphql::ErrorExtensions as _;
            async_graphql::Error::new(format!(
                "this connection already has {} open subscriptions, the most allowed: complete one first or open another connection",
                self.max
            ))
            .extend_with(|_, e| {
                e.set("code", LIMIT_EXCEEDED);
                e.set("limit", "subscriptionsPerConnection");
            })
        })
    }
}
