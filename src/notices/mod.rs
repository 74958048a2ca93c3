//! Telling customers of subprocessor changes, on the channels they expect beside the GraphQL
//! subscription: email (double opt-in, RFC 8058 one-click unsubscribe) and webhooks (Standard
//! Webhooks), both read from the public change log, and the rendering that the public pages
//! and the Atom feed share.
//!
//! Each subscriber has a cursor into the public log. The dispatcher, on every replica, queues
//! the notices its subscribers are behind on ([`plan`]), leases subscribers with due notices
//! (one replica at a time each), sends them one at a time per subscriber, and records every
//! attempt before the delivery moves on ([`dispatch`]).

pub mod dispatch;
pub mod links;
pub mod mail;
pub mod plan;
pub mod render;
pub mod smtp;
pub mod webhook;

pub use dispatch::{Dispatcher, start};
