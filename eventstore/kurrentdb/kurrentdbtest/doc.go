// Package kurrentdbtest is a TEST DOUBLE of a KurrentDB (EventStoreDB) node:
// an in-process gRPC server, bound to 127.0.0.1 only, that speaks enough of
// the KurrentDB client protocol (the generated services exported by
// github.com/EventStore/EventStore-Client-Go/v4/protos) for the real Go
// client to append, read and subscribe against it. It keeps its log in
// memory.
//
// It exists so that CI, which has no KurrentDB, can run the eventstore
// conformance suite and fault tests through the real client. It is not a
// store: import it only from _test.go files. The server binary never uses
// it (a test in package kurrentdb checks that no non-test file imports it).
//
// What it implements, following the server's documented behaviour:
//
//   - ServerFeatures.GetSupportedMethods (the only call a single-host
//     connection string makes on connect);
//   - Streams.Append (client-streaming: options first, then proposed
//     messages), with optimistic concurrency, the server's idempotency rules
//     (exact/no-stream retries are checked against the stored events; "any"
//     retries only against an in-memory cache that Restart forgets), and the
//     maximum append size;
//   - Streams.Read: stream reads forward/backward, $all reads forward
//     (inclusive of the start position) and backward (exclusive), with or
//     without server-side filters, and catch-up subscriptions to a stream or
//     to $all (confirmation first, then events, checkpoints for filtered
//     subscriptions, caught-up, then live events);
//   - Streams.Delete and Streams.Tombstone (a deleted stream answers with the
//     "stream-deleted" exception and the "stream-name" trailer the client
//     needs).
//
// Every recorded event carries the "type", "content-type" and "created"
// (.NET ticks since the Unix epoch) system metadata the client requires.
// Commit and prepare positions are byte-offset-like, strictly increasing and
// not dense, and equal for each event, as on KurrentDB for events written by
// gRPC appends. System events ("$"-streams, "$"-types) are written at start
// and by WriteSystemEvent, so consumers must filter them as they must on a
// real node.
//
// Scavenge models KurrentDB's scavenge (the events of deleted streams leave
// the log and $all), and ContainsBytes searches every event the node holds,
// as a byte search of a node's chunk files would: the key store's erasure
// tests use both.
//
// Fault injection for tests: a Server can be created stopped (store down at
// start), stopped and restarted with its data (on the same port when free),
// made slow before or after applying a request, and told to drop its
// subscriptions.
package kurrentdbtest
