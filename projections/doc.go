// Package projections turns the global event log into read models in SQLite
// (the read-model database, <data>/readmodels.db) and answers the report and
// case-list queries from them.
//
// # Engine
//
// One projection per read model (arrests, gangs_dismantled, seizures,
// detections, case_list), each with its own checkpoint: the position of the
// last event of the log it has applied. Events are applied in batches, each
// inside one SQLite transaction together with the projection's new
// checkpoint, so after a crash nothing is applied twice or skipped.
// Projections whose checkpoints are equal share one subscription to the log
// (one reader; each batch applied to each projection in a transaction of its
// own), so a rebuild of all read models reads the log once; a projection
// that fails on an event is rolled back and stops alone.
//
// # Generations
//
// Every projection's tables carry a generation suffix (arrest_facts_g3). A
// rebuild (a new code version at start-up, or an admin's request) builds a
// new generation from position 0 while the current one keeps answering, and
// swaps it in atomically once it has caught up; the old tables are dropped
// after the last reader has left them.
//
// # Checks against the log
//
// A checkpoint is kept with the id of the event it names. When the engine
// opens and whenever a runner subscribes again, a generation whose
// checkpoint lies beyond the log's head, or whose event there is not the
// log's, is replaced by an empty one that catches up from the start (an
// older backup of the store restored under newer read models): logged at
// error and shown by Status as last_error.
//
// # Read models
//
// Reports are answered from pre-aggregated buckets: per month, per day, plus
// the individual facts for the partial days at either end of a period. Facts
// (one row per countable event) also answer the explain=true drill-down, a
// page at a time (explain.go). The read models are bitemporal: each fact
// keeps when it happened, when it was recorded and when a retraction
// withdrew it, so that "as known at T" (as_of) is the buckets corrected by
// the few facts whose record changed after T, found through an index
// (factquery.go, gangsquery.go), not a replay of the log. See facts.go,
// gangs.go and caselist.go.
package projections
