package kurrentdbtest_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/casebook/casebook/eventstore/kurrentdb/kurrentdbtest"
	"github.com/google/uuid"
)

// These tests drive the double with the real client directly, so that a
// protocol mistake in the double shows here rather than as a puzzling
// adapter failure.

func newClient(t *testing.T, url string) *esdb.Client {
	t.Helper()
	cfg, err := esdb.ParseConnectionString(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = esdb.NoopLogging()
	c, err := esdb.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func jsonEvent(typ, data string) esdb.EventData {
	return esdb.EventData{EventID: uuid.New(), EventType: typ, ContentType: esdb.ContentTypeJson, Data: []byte(data), Metadata: []byte(`{"m":1}`)}
}

func TestAppendReadAndIdempotency(t *testing.T) {
	srv := kurrentdbtest.Start(t, kurrentdbtest.Options{})
	c := newClient(t, srv.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	e1, e2 := jsonEvent("A", `{"a":1}`), jsonEvent("B", `{"b":2}`)
	res, err := c.AppendToStream(ctx, "case-1", esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}}, e1, e2)
	if err != nil {
		t.Fatal(err)
	}
	if res.NextExpectedVersion != 1 || res.CommitPosition == 0 {
		t.Fatalf("result %+v", res)
	}

	// Retry with the same expectation: the node answers the original result.
	again, err := c.AppendToStream(ctx, "case-1", esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}}, e1, e2)
	if err != nil {
		t.Fatalf("idempotent retry: %v", err)
	}
	if *again != *res {
		t.Fatalf("retry result %+v, original %+v", again, res)
	}
	if _, wrote := srv.AppendCalls(); wrote != 1 {
		t.Fatalf("wrote %d times", wrote)
	}

	// A conflicting append is a wrong-expected-version error.
	_, err = c.AppendToStream(ctx, "case-1", esdb.AppendToStreamOptions{ExpectedRevision: esdb.Revision(0)}, jsonEvent("C", `{}`))
	var esErr *esdb.Error
	if !errors.As(err, &esErr) || esErr.Code() != esdb.ErrorCodeWrongExpectedVersion {
		t.Fatalf("want wrong expected version, got %v", err)
	}

	rs, err := c.ReadStream(ctx, "case-1", esdb.ReadStreamOptions{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var got []*esdb.RecordedEvent
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev.Event)
	}
	if len(got) != 2 || got[0].EventID != e1.EventID || got[1].EventType != "B" || string(got[1].UserMetadata) != `{"m":1}` {
		t.Fatalf("read %+v", got)
	}
	if got[1].Position.Commit != res.CommitPosition || got[0].Position.Commit >= got[1].Position.Commit {
		t.Fatalf("positions %v %v, append said %d", got[0].Position, got[1].Position, res.CommitPosition)
	}
	if d := time.Since(got[0].CreatedDate); d < 0 || d > time.Minute {
		t.Fatalf("created %v", got[0].CreatedDate)
	}

	// A missing stream reads as not found.
	rs2, err := c.ReadStream(ctx, "nope", esdb.ReadStreamOptions{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer rs2.Close()
	if _, err := rs2.Recv(); !errors.As(err, &esErr) || esErr.Code() != esdb.ErrorCodeResourceNotFound {
		t.Fatalf("want not found, got %v", err)
	}
}

func TestAnyRetryForgottenAfterRestart(t *testing.T) {
	srv := kurrentdbtest.Start(t, kurrentdbtest.Options{})
	c := newClient(t, srv.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e := jsonEvent("A", `{}`)
	if _, err := c.AppendToStream(ctx, "s", esdb.AppendToStreamOptions{}, e); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AppendToStream(ctx, "s", esdb.AppendToStreamOptions{}, e); err != nil {
		t.Fatal(err)
	}
	if got := len(srv.StreamEventIDs("s")); got != 1 {
		t.Fatalf("before restart: %d events", got)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	c2 := newClient(t, srv.URL())
	if _, err := c2.AppendToStream(ctx, "s", esdb.AppendToStreamOptions{}, e); err != nil {
		t.Fatal(err)
	}
	// Like KurrentDB, the node forgot the ID: the event is stored twice.
	if got := len(srv.StreamEventIDs("s")); got != 2 {
		t.Fatalf("after restart: %d events", got)
	}
}

func TestSubscribeToAllFiltered(t *testing.T) {
	srv := kurrentdbtest.Start(t, kurrentdbtest.Options{})
	c := newClient(t, srv.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := 0; i < 5; i++ {
		if _, err := c.AppendToStream(ctx, "case-x", esdb.AppendToStreamOptions{}, jsonEvent("A", `{}`)); err != nil {
			t.Fatal(err)
		}
	}
	sub, err := c.SubscribeToAll(ctx, esdb.SubscribeToAllOptions{From: esdb.Start{}, Filter: esdb.ExcludeSystemEventsFilter()})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	var events, checkpoints int
	caughtUp := false
	for !caughtUp {
		ev := sub.Recv()
		switch {
		case ev.EventAppeared != nil:
			if ev.EventAppeared.Event.StreamID != "case-x" {
				t.Fatalf("system event leaked: %s", ev.EventAppeared.Event.StreamID)
			}
			events++
		case ev.CheckPointReached != nil:
			checkpoints++
		case ev.CaughtUp != nil:
			caughtUp = true
		case ev.SubscriptionDropped != nil:
			t.Fatal(ev.SubscriptionDropped.Error)
		}
	}
	if events != 5 || checkpoints == 0 {
		t.Fatalf("events %d checkpoints %d", events, checkpoints)
	}
	go func() {
		_, _ = c.AppendToStream(ctx, "case-y", esdb.AppendToStreamOptions{}, jsonEvent("B", `{}`))
	}()
	for {
		ev := sub.Recv()
		if ev.EventAppeared != nil {
			if ev.EventAppeared.Event.StreamID != "case-y" {
				t.Fatalf("live event from %s", ev.EventAppeared.Event.StreamID)
			}
			break
		}
		if ev.SubscriptionDropped != nil {
			t.Fatal(ev.SubscriptionDropped.Error)
		}
	}
	srv.DropSubscriptions()
	for {
		ev := sub.Recv()
		if ev.SubscriptionDropped != nil {
			break
		}
	}
}
