//! Bounds on a GraphQL document, checked before anything else walks it so that a hostile
//! document costs little: its size in tokens (before parsing), then its aliases and the number
//! of fields it selects once every fragment is expanded (a fragment "bomb" that spreads
//! fragments into each other is measured without expanding it), how deep it nests and how many
//! directives a field carries. They run when the request is prepared, for HTTP and WebSocket
//! requests alike, and refuse with `LIMIT_EXCEEDED` naming the limit: async-graphql's own
//! recursion-depth and directive checks, which follow every spread, would take time exponential
//! in the size of a bomb. Its depth, complexity and directive limits stay set as a second line.

use crate::settings::Limits;
use async_graphql::parser::types::{
    ExecutableDocument, FragmentDefinition, Selection, SelectionSet,
};
use async_graphql::{Name, Pos, Positioned, Request, ServerError, ServerResult};
use std::collections::HashMap;
use std::sync::Arc;

pub const LIMIT_EXCEEDED: &str = "LIMIT_EXCEEDED";

/// How deep an introspection query may nest, from its `__schema` or `__type` field down. The
/// schema's own shape sets it, not the data: graphql-js's standard introspection query (which
/// GraphiQL and its explorer send) follows wrapped types through nine `ofType` levels and
/// nests 15 deep in all, beyond the depth limit for data queries. Its fields still count
/// towards the field limit, and its tokens towards the token limit.
pub const INTROSPECTION_MAX_DEPTH: usize = 20;
pub const INTROSPECTION_DISABLED: &str = "INTROSPECTION_DISABLED";

fn refused(limit: &'static str, message: String) -> ServerError {
    coded(LIMIT_EXCEEDED, Some(limit), message)
}

/// A refusal with its `extensions.code` (and the limit it names, if any).
fn coded(code: &'static str, limit: Option<&'static str>, message: String) -> ServerError {
    let mut err = ServerError::new(message, None);
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set("code", code);
    if let Some(limit) = limit {
        extensions.set("limit", limit);
    }
    err.extensions = Some(extensions);
    err
}

/// Checks `request`'s document against the document bounds of `limits` (its tokens, aliases,
/// fields, depth, directives and introspection), parsing it once (the parsed document stays in
/// the request, so the schema does not parse it again).
pub fn check_document(request: &mut Request, limits: &Limits) -> ServerResult<()> {
    if count_tokens(&request.query, limits.max_tokens) > limits.max_tokens {
        return Err(refused(
            "tokens",
            format!("the document has more than {} tokens", limits.max_tokens),
        ));
    }
    let shape = measure(request.parsed_query()?, limits.max_complexity);
    if let Some((name, pos)) = shape.unknown_fragment {
        // Validation would refuse it too, but only after the walks this check protects:
        // a bomb of spreads to a missing fragment selects no field at all.
        return Err(ServerError::new(
            format!("Unknown fragment \"{name}\"."),
            Some(pos),
        ));
    }
    if shape.aliases > limits.max_aliases {
        return Err(refused(
            "aliases",
            format!(
                "the document has {} aliases; at most {} are allowed",
                shape.aliases, limits.max_aliases
            ),
        ));
    }
    if shape.fields > limits.max_complexity {
        return Err(refused(
            "fields",
            format!(
                "the document selects more than {} fields once its fragments are expanded",
                limits.max_complexity
            ),
        ));
    }
    if shape.introspection_depth > INTROSPECTION_MAX_DEPTH {
        return Err(refused(
            "depth",
            format!(
                "the introspection query nests fields {} deep; at most {INTROSPECTION_MAX_DEPTH} levels are allowed under `__schema` and `__type`",
                shape.introspection_depth
            ),
        ));
    }
    if shape.depth > limits.max_depth {
        return Err(refused(
            "depth",
            format!(
                "the document nests fields {} deep; at most {} levels are allowed",
                shape.depth, limits.max_depth
            ),
        ));
    }
    if shape.most_directives > limits.max_directives {
        return Err(refused(
            "directives",
            format!(
                "a field has {} directives; at most {} are allowed on one field",
                shape.most_directives, limits.max_directives
            ),
        ));
    }
    if !limits.introspection
        && let Some(field) = introspection_field(request.parsed_query()?)
    {
        return Err(coded(
            INTROSPECTION_DISABLED,
            None,
            format!("introspection is switched off on this server: `{field}` is not available"),
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
    /// Fields on the longest path from the operation down, fragments expanded (`{ a { b } }`
    /// is 2 deep), leaving out introspection. Exact only while `fields` is within the bound.
    pub depth: usize,
    /// The same for the introspection fields (`__schema`, `__type`) and what they select.
    pub introspection_depth: usize,
    /// The most directives on any one field.
    pub most_directives: usize,
    /// The first spread of a fragment the document does not define.
    pub unknown_fragment: Option<(String, Pos)>,
}

/// How much a selection set selects once expanded.
#[derive(Clone, Copy, Default)]
struct Extent {
    fields: usize,
    depth: usize,
}

/// Counts the document's aliases and directives, and the fields it selects (and how deep) with
/// every fragment spread expanded. Each fragment is measured once (memoised), so a fragment bomb
/// costs time linear in the document; a fragment cycle counts as over the bound (validation
/// refuses it anyway).
pub fn measure(document: &ExecutableDocument, bound: usize) -> Shape {
    let mut walker = Walker {
        fragments: &document.fragments,
        extents: HashMap::new(),
        bound,
        aliases: 0,
        most_directives: 0,
        unknown_fragment: None,
        introspection_depth: 0,
    };
    let mut total = Extent::default();
    for (_, operation) in document.operations.iter() {
        let extent = walker.selection_set(&operation.node.selection_set.node, 0);
        total.fields = total.fields.saturating_add(extent.fields);
        total.depth = total.depth.max(extent.depth);
    }
    // Aliases and directives count once per place they are written: the document's own text.
    for fragment in document.fragments.values() {
        walker.count_text(&fragment.node.selection_set.node);
    }
    for (_, operation) in document.operations.iter() {
        walker.count_text(&operation.node.selection_set.node);
    }
    Shape {
        aliases: walker.aliases,
        fields: total.fields.min(bound.saturating_add(1)),
        depth: total.depth,
        most_directives: walker.most_directives,
        unknown_fragment: walker.unknown_fragment,
        introspection_depth: walker.introspection_depth,
    }
}

/// The introspection field (`__schema` or `__type`) the document asks for at its root, if any.
pub fn introspection_field(document: &ExecutableDocument) -> Option<&str> {
    fn find<'a>(
        document: &'a ExecutableDocument,
        set: &'a SelectionSet,
        hops: usize,
    ) -> Option<&'a str> {
        // A chain of spreads longer than the document's fragments is a cycle.
        if hops > document.fragments.len() {
            return None;
        }
        set.items
            .iter()
            .find_map(|selection| match &selection.node {
                Selection::Field(field) => {
                    let name = field.node.name.node.as_str();
                    matches!(name, "__schema" | "__type").then_some(name)
                }
                Selection::InlineFragment(fragment) => {
                    find(document, &fragment.node.selection_set.node, hops)
                }
                Selection::FragmentSpread(spread) => document
                    .fragments
                    .get(&spread.node.fragment_name.node)
                    .and_then(|f| find(document, &f.node.selection_set.node, hops + 1)),
            })
    }
    document
        .operations
        .iter()
        .find_map(|(_, operation)| find(document, &operation.node.selection_set.node, 0))
}

struct Walker<'a> {
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    /// Expanded extent of each fragment measured so far; `None` while being measured (a cycle).
    extents: HashMap<&'a str, Option<Extent>>,
    bound: usize,
    aliases: usize,
    most_directives: usize,
    unknown_fragment: Option<(String, Pos)>,
    introspection_depth: usize,
}

impl<'a> Walker<'a> {
    fn over(&self) -> Extent {
        Extent {
            fields: self.bound.saturating_add(1),
            depth: 0,
        }
    }

    fn selection_set(&mut self, set: &'a SelectionSet, nesting: usize) -> Extent {
        // Nesting deeper than this is refused by the parser and the depth limit long before.
        if nesting > 256 {
            return self.over();
        }
        let mut total = Extent::default();
        for selection in &set.items {
            let extent = match &selection.node {
                // `__typename` is answered without a resolver and, as in async-graphql's own
                // depth count, adds no level.
                Selection::Field(field) if field.node.name.node == "__typename" => Extent {
                    fields: 1,
                    depth: 0,
                },
                // Introspection is as deep as the schema's types: measured apart.
                Selection::Field(field)
                    if matches!(field.node.name.node.as_str(), "__schema" | "__type") =>
                {
                    let inner = self.selection_set(&field.node.selection_set.node, nesting + 1);
                    self.introspection_depth = self.introspection_depth.max(inner.depth + 1);
                    Extent {
                        fields: inner.fields.saturating_add(1),
                        depth: 0,
                    }
                }
                Selection::Field(field) => {
                    let inner = self.selection_set(&field.node.selection_set.node, nesting + 1);
                    Extent {
                        fields: inner.fields.saturating_add(1),
                        depth: inner.depth + 1,
                    }
                }
                Selection::InlineFragment(fragment) => {
                    self.selection_set(&fragment.node.selection_set.node, nesting + 1)
                }
                Selection::FragmentSpread(spread) => {
                    self.fragment(&spread.node.fragment_name, nesting)
                }
            };
            total.fields = total.fields.saturating_add(extent.fields);
            total.depth = total.depth.max(extent.depth);
            if total.fields > self.bound {
                return total;
            }
        }
        total
    }

    fn fragment(&mut self, spread: &'a Positioned<Name>, nesting: usize) -> Extent {
        let name = spread.node.as_str();
        match self.extents.get(name) {
            Some(Some(extent)) => return *extent,
            Some(None) => return self.over(),
            None => {}
        }
        let Some((key, definition)) = self.fragments.get_key_value(name) else {
            if self.unknown_fragment.is_none() {
                self.unknown_fragment = Some((name.to_owned(), spread.pos));
            }
            return Extent::default();
        };
        self.extents.insert(key.as_str(), None);
        let extent = self.selection_set(&definition.node.selection_set.node, nesting + 1);
        self.extents.insert(key.as_str(), Some(extent));
        extent
    }

    fn count_text(&mut self, set: &SelectionSet) {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    if field.node.alias.is_some() {
                        self.aliases += 1;
                    }
                    self.most_directives = self.most_directives.max(field.node.directives.len());
                    self.count_text(&field.node.selection_set.node);
                }
                Selection::InlineFragment(fragment) => {
                    self.count_text(&fragment.node.selection_set.node)
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
                depth: 2,
                most_directives: 0,
                unknown_fragment: None,
                introspection_depth: 0,
            }
        );
    }

    #[test]
    fn introspection_is_measured_apart_from_data() {
        let document = parse_query(
            "query { organization { name } __schema { types { ...T } } }
             fragment T on __Type { fields { type { ofType { ofType { name } } } } }",
        )
        .expect("parses");
        let shape = measure(&document, 1_000);
        assert_eq!((shape.depth, shape.introspection_depth), (2, 7));
        assert_eq!(shape.fields, 9);
    }

    #[test]
    fn depth_follows_fragments_and_directives_are_counted_per_field() {
        let document = parse_query(
            "query { a { ...F } b @skip(if: false) }
             fragment F on A { c { d @include(if: true) @skip(if: false) } ... on A { e { f { g __typename } } } }",
        )
        .expect("parses");
        let shape = measure(&document, 1_000);
        assert_eq!(shape.depth, 4, "__typename adds no level");
        assert_eq!(shape.most_directives, 2);
    }

    #[test]
    fn introspection_at_the_root_is_found_through_fragments() {
        let found =
            |doc: &str| introspection_field(&parse_query(doc).expect("parses")).map(str::to_owned);
        assert_eq!(
            found("{ __schema { types { name } } }").as_deref(),
            Some("__schema")
        );
        assert_eq!(
            found("query { ...Q } fragment Q on Query { ... on Query { __type(name: \"A\") { name } } }").as_deref(),
            Some("__type")
        );
        assert_eq!(found("{ __typename organization { name } }"), None);
        assert_eq!(found("query { ...A } fragment A on Query { ...A }"), None);
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
