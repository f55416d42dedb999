// Package kurrentdb implements eventstore.Store on KurrentDB (EventStoreDB)
// through the official gRPC client, github.com/EventStore/EventStore-Client-Go/v4.
//
// # Connection strings
//
// Open accepts the client's esdb:// and esdb+discover:// strings and the
// kurrentdb:// and kurrentdb+discover:// spellings, which it translates. TLS,
// credentials, gossip seeds and the client's settings are the client's own
// (for example "esdb://admin:changeit@node1:2113,node2:2113?tlsCAFile=ca.pem").
// Unknown settings are an error rather than a console warning. The client's
// console logger is replaced by Options.Logger (slog).
//
// # Positions
//
// KurrentDB places every event of $all at a (commit, prepare) pair of byte
// offsets in its transaction log. Events written by gRPC appends — all of
// Casebook's, including every event of a multi-event append — each get
// their own log record, and the node reports commit == prepare == the
// record's offset for them (KurrentDB ≥ 20.6; the Go client's write result
// carries the last event's commit position). So
//
//	eventstore.Position = the event's commit position
//
// which is unique per event, strictly increasing along $all and never 0
// (the log starts with headers), so Position 0 keeps meaning "before the
// first event". To resume, a position p becomes the client position
// {Commit: p, Prepare: p}: a catch-up subscription from it delivers the
// events after p, a forward read from it starts at p. Backward reads on
// KurrentDB exclude their start position, so ReadAll fetches the event at
// p separately when a backward read starts there. Events written in legacy
// explicit transactions (TCP clients only) share a commit position; such
// logs are not supported. Stream reads report the same positions on
// KurrentDB ≥ 22.6 (older nodes leave them out).
//
// # What the adapter adds to the client
//
//   - Durable idempotency. KurrentDB recognises a retried append by its
//     event IDs only at the revisions an exact or no-stream expectation
//     names (from its stored events) or, for "any", from an in-memory cache
//     it loses on restart; it never compares content and cannot say whether
//     a success was a retry. The Store therefore reads the stream's newest
//     event (the newest 33 for "any" and "stream-exists") before writing,
//     and reads the events back when the node's answer shows they were
//     stored already. A retry is answered with the original result and
//     Duplicate set, or *EventIDReusedError when the IDs carry other
//     content, and nothing is written:
//     always, when it repeats the original expected revision, or when its
//     events are the stream's newest (the newest 33 for "any",
//     "stream-exists", no-stream and revisions beyond the stream's end);
//     a retry sent with a stale exact revision gets the conflict error.
//     The Store also remembers the appends it wrote (Options.RecentAppends)
//     to recognise, until it is restarted, retries with any expectation,
//     partial retries (a prefix or suffix of an earlier append) and IDs
//     reused in another stream. KurrentDB keeps neither append boundaries
//     nor an index by event ID, so after a restart a partial retry is
//     answered as a duplicate, an ID reused in another stream or deeper in
//     the same stream is written, and an "any" retry buried under more than
//     32 newer events of its stream is written again.
//   - System events ($-streams and $-types: stats, settings, projections)
//     never appear in ReadAll, Subscribe or Head.
//   - Server-side filters on subscriptions (stream prefixes or event types,
//     else "no system events"); checkpoints keep the resume position fresh.
//     ReadAll filters on the client: the v4.2.0 client's ReadAll cannot send
//     a filter.
//   - Reconnection. The v4.2.0 client reconnects after a failed call only by
//     rediscovering the node on the next call, and when that discovery fails
//     (the node is still down) the client closes itself for good; calls made
//     meanwhile can block on its internal channel. The Store therefore
//     retires a client after any "unavailable" error, creates a new one for
//     the next call, lets a single probe discover the node before other
//     calls use a new client, closes retired clients once their calls are
//     done, and runs client calls in goroutines so that a caller's context
//     always bounds its wait. While the node is down calls fail fast with
//     errors matching eventstore.ErrUnavailable; Ping succeeds again as soon
//     as the node is back, without reopening the Store.
//   - Subscriptions that lose the node resubscribe from the last position
//     seen, with exponential backoff, for Options.ResubscribeFor; after that
//     they end with a *SubscriptionDroppedError that also matches
//     ErrUnavailable. A subscriber that falls more than
//     Options.SubscriberBuffer live events behind is dropped with a
//     *SubscriptionDroppedError; both carry ResumeAfter.
//
// Events are written with content type application/json; Casebook's
// metadata JSON is the event's metadata as-is, so the events read well in
// the KurrentDB UI and from other clients.
package kurrentdb
