package kurrentdbtest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

type streamsService struct {
	streams.UnimplementedStreamsServer
	srv *Server
}

// rpcError is a gRPC error with the trailers KurrentDB attaches (the client
// reads "exception" and, for deleted streams, "stream-name").
func rpcError(stream grpc.ServerStream, code codes.Code, msg string, trailer ...string) error {
	if len(trailer) > 0 && stream != nil {
		stream.SetTrailer(metadata.Pairs(trailer...))
	}
	return status.Error(code, msg)
}

func streamDeleted(stream grpc.ServerStream, name string) error {
	return rpcError(stream, codes.FailedPrecondition, fmt.Sprintf("Event stream '%s' is deleted.", name),
		"exception", "stream-deleted", "stream-name", name)
}

func newUUID() uuid.UUID { return uuid.New() }

func uuidFromProto(u *shared.UUID) (uuid.UUID, error) {
	if u == nil {
		return uuid.Nil, errors.New("missing id")
	}
	if st := u.GetStructured(); st != nil {
		var b [16]byte
		binary.BigEndian.PutUint64(b[:8], uint64(st.MostSignificantBits))
		binary.BigEndian.PutUint64(b[8:], uint64(st.LeastSignificantBits))
		return uuid.UUID(b), nil
	}
	return uuid.Parse(u.GetString_())
}

func uuidToProto(id uuid.UUID, asString bool) *shared.UUID {
	if asString {
		return &shared.UUID{Value: &shared.UUID_String_{String_: id.String()}}
	}
	return &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{
		MostSignificantBits:  int64(binary.BigEndian.Uint64(id[:8])),
		LeastSignificantBits: int64(binary.BigEndian.Uint64(id[8:])),
	}}}
}

// expectation kinds, as the server's expected versions.
const (
	expectAny          int64 = -2
	expectNoStream     int64 = -1
	expectStreamExists int64 = -4
)

// Append implements the client-streaming append: an options message, then
// one message per event; the answer comes when the client closes its side.
func (s *streamsService) Append(stream streams.Streams_AppendServer) error {
	ctx := stream.Context()
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	opts := first.GetOptions()
	if opts == nil {
		return status.Error(codes.InvalidArgument, "the first append message must carry options")
	}
	name := string(opts.GetStreamIdentifier().GetStreamName())
	var expected int64
	switch v := opts.GetExpectedStreamRevision().(type) {
	case *streams.AppendReq_Options_Revision:
		if v.Revision > math.MaxInt64 {
			return status.Error(codes.InvalidArgument, "expected revision out of range")
		}
		expected = int64(v.Revision)
	case *streams.AppendReq_Options_NoStream:
		expected = expectNoStream
	case *streams.AppendReq_Options_Any:
		expected = expectAny
	case *streams.AppendReq_Options_StreamExists:
		expected = expectStreamExists
	default:
		return status.Error(codes.InvalidArgument, "missing expected stream revision")
	}

	var events []proposed
	size := 0
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		pm := msg.GetProposedMessage()
		if pm == nil {
			return status.Error(codes.InvalidArgument, "expected a proposed message")
		}
		eventType, ok := pm.Metadata["type"]
		if !ok {
			return rpcError(stream, codes.InvalidArgument, "Required Metadata Property 'type' is missing",
				"exception", "missing-required-metadata-property", "required-metadata-properties", "type,content-type")
		}
		contentType, ok := pm.Metadata["content-type"]
		if !ok {
			return rpcError(stream, codes.InvalidArgument, "Required Metadata Property 'content-type' is missing",
				"exception", "missing-required-metadata-property", "required-metadata-properties", "type,content-type")
		}
		id, err := uuidFromProto(pm.GetId())
		if err != nil {
			return status.Errorf(codes.InvalidArgument, "invalid event id: %v", err)
		}
		size += len(eventType) + len(pm.Data) + len(pm.CustomMetadata)
		if size > s.srv.opts.MaxAppendSize {
			return rpcError(stream, codes.InvalidArgument, fmt.Sprintf("Maximum Append Size of %d Exceeded.", s.srv.opts.MaxAppendSize),
				"exception", "maximum-append-size-exceeded", "maximum-append-size", strconv.Itoa(s.srv.opts.MaxAppendSize))
		}
		events = append(events, proposed{
			id: id, eventType: eventType, contentType: contentType,
			data: append([]byte(nil), pm.Data...), metadata: append([]byte(nil), pm.CustomMetadata...),
		})
	}

	before, after := s.srv.delays()
	if err := sleep(ctx, before); err != nil {
		return status.FromContextError(err).Err()
	}
	resp, err := s.decideAppend(stream, name, expected, events)
	if err != nil {
		return err
	}
	// A slow node that has written but not yet answered: a client giving up
	// now does not know its events are stored.
	if err := sleep(ctx, after); err != nil {
		return status.FromContextError(err).Err()
	}
	return stream.SendAndClose(resp)
}

func (s *streamsService) decideAppend(stream grpc.ServerStream, name string, expected int64, events []proposed) (*streams.AppendResp, error) {
	s.srv.mu.Lock()
	epoch := s.srv.epoch
	cacheSize := s.srv.opts.IdempotencyCacheSize
	s.srv.appends++
	s.srv.mu.Unlock()

	l := s.srv.log
	l.mu.Lock()
	defer l.mu.Unlock()
	if st := l.streams[name]; st != nil && st.deleted {
		return nil, streamDeleted(stream, name)
	}
	current := l.lastRevisionLocked(name)

	if len(events) == 0 {
		// An empty append succeeds without writing when the expectation holds.
		if !satisfied(expected, current) {
			return wrongExpected(expected, current), nil
		}
		return success(current, nil), nil
	}

	// Idempotency, as KurrentDB's commit check: an exact or no-stream retry is
	// recognised from the stored events at the revisions it would have
	// taken; an "any" (or stream-exists) retry only from the in-memory cache
	// of recent event IDs.
	switch {
	case expected >= expectNoStream && expected < current:
		first, all := l.matchAtLocked(name, uint64(expected+1), events)
		if all {
			return l.idempotentLocked(first, len(events)), nil
		}
		return wrongExpected(expected, current), nil
	case expected == expectAny || (expected == expectStreamExists && current >= 0):
		if first, ok := l.recentLocked(name, events[0].id, epoch, cacheSize); ok {
			if _, all := l.matchAtLocked(name, first.revision, events); all {
				return l.idempotentLocked(first, len(events)), nil
			}
			return wrongExpected(expected, current), nil
		}
	}
	if !satisfied(expected, current) {
		return wrongExpected(expected, current), nil
	}
	written := l.appendLocked(name, epoch, events)
	s.srv.mu.Lock()
	s.srv.written++
	s.srv.mu.Unlock()
	resp := success(int64(written[len(written)-1].revision), written)
	if s.srv.opts.ReportEndOfWrite {
		resp.GetSuccess().PositionOption = &streams.AppendResp_Success_Position{Position: &streams.AppendResp_Position{
			CommitPosition: l.next, PreparePosition: written[0].position,
		}}
	}
	return resp, nil
}

// matchAtLocked reports whether events sit in stream from revision from on,
// with the same IDs (the server compares IDs only).
func (l *memLog) matchAtLocked(stream string, from uint64, events []proposed) (*record, bool) {
	st := l.streams[stream]
	if st == nil || from+uint64(len(events)) > uint64(len(st.events)) {
		return nil, false
	}
	for i, e := range events {
		if l.records[st.events[from+uint64(i)]].id != e.id {
			return nil, false
		}
	}
	return l.records[st.events[from]], true
}

// recentLocked looks id up among the stream's events written in this run
// and within the cache size: the node's in-memory idempotency cache.
func (l *memLog) recentLocked(stream string, id uuid.UUID, epoch uint64, cacheSize int) (*record, bool) {
	lowest := len(l.records) - cacheSize
	for i := len(l.records) - 1; i >= 0 && i >= lowest; i-- {
		r := l.records[i]
		if r.epoch != epoch {
			break
		}
		if r.stream == stream && r.id == id {
			return r, true
		}
	}
	return nil, false
}

func satisfied(expected, current int64) bool {
	switch expected {
	case expectAny:
		return true
	case expectNoStream:
		return current == -1
	case expectStreamExists:
		return current >= 0
	default:
		return expected == current
	}
}

func success(current int64, written []*record) *streams.AppendResp {
	ok := &streams.AppendResp_Success{}
	if current < 0 {
		ok.CurrentRevisionOption = &streams.AppendResp_Success_NoStream{NoStream: &shared.Empty{}}
	} else {
		ok.CurrentRevisionOption = &streams.AppendResp_Success_CurrentRevision{CurrentRevision: uint64(current)}
	}
	if len(written) == 0 {
		ok.PositionOption = &streams.AppendResp_Success_NoPosition{NoPosition: &shared.Empty{}}
	} else {
		last := written[len(written)-1].position
		ok.PositionOption = &streams.AppendResp_Success_Position{Position: &streams.AppendResp_Position{
			CommitPosition: last, PreparePosition: last,
		}}
	}
	return &streams.AppendResp{Result: &streams.AppendResp_Success_{Success: ok}}
}

// idempotentLocked answers a retried append with the original append's
// result, as the node does for a write it recognises.
func (l *memLog) idempotentLocked(first *record, n int) *streams.AppendResp {
	st := l.streams[first.stream]
	last := l.records[st.events[first.revision+uint64(n)-1]]
	written := []*record{last}
	return success(int64(last.revision), written)
}

func wrongExpected(expected, current int64) *streams.AppendResp {
	w := &streams.AppendResp_WrongExpectedVersion{}
	if current < 0 {
		w.CurrentRevisionOption = &streams.AppendResp_WrongExpectedVersion_CurrentNoStream{CurrentNoStream: &shared.Empty{}}
		w.CurrentRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_NoStream_20_6_0{NoStream_20_6_0: &shared.Empty{}}
	} else {
		w.CurrentRevisionOption = &streams.AppendResp_WrongExpectedVersion_CurrentRevision{CurrentRevision: uint64(current)}
		w.CurrentRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_CurrentRevision_20_6_0{CurrentRevision_20_6_0: uint64(current)}
	}
	switch expected {
	case expectAny:
		w.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedAny{ExpectedAny: &shared.Empty{}}
		w.ExpectedRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_Any_20_6_0{Any_20_6_0: &shared.Empty{}}
	case expectStreamExists:
		w.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedStreamExists{ExpectedStreamExists: &shared.Empty{}}
		w.ExpectedRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_StreamExists_20_6_0{StreamExists_20_6_0: &shared.Empty{}}
	case expectNoStream:
		w.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedNoStream{ExpectedNoStream: &shared.Empty{}}
		w.ExpectedRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_ExpectedRevision_20_6_0{ExpectedRevision_20_6_0: math.MaxUint64}
	default:
		w.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedRevision{ExpectedRevision: uint64(expected)}
		w.ExpectedRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_ExpectedRevision_20_6_0{ExpectedRevision_20_6_0: uint64(expected)}
	}
	return &streams.AppendResp{Result: &streams.AppendResp_WrongExpectedVersion_{WrongExpectedVersion: w}}
}

// Delete soft-deletes a stream. Reads and appends then fail with the
// stream-deleted exception (the double does not model re-creation).
func (s *streamsService) Delete(ctx context.Context, req *streams.DeleteReq) (*streams.DeleteResp, error) {
	pos, err := s.deleteStream(ctx, req.GetOptions().GetStreamIdentifier().GetStreamName(), false)
	if err != nil {
		return nil, err
	}
	return &streams.DeleteResp{PositionOption: &streams.DeleteResp_Position_{Position: &streams.DeleteResp_Position{
		CommitPosition: pos, PreparePosition: pos,
	}}}, nil
}

// Tombstone deletes a stream for good.
func (s *streamsService) Tombstone(ctx context.Context, req *streams.TombstoneReq) (*streams.TombstoneResp, error) {
	pos, err := s.deleteStream(ctx, req.GetOptions().GetStreamIdentifier().GetStreamName(), true)
	if err != nil {
		return nil, err
	}
	return &streams.TombstoneResp{PositionOption: &streams.TombstoneResp_Position_{Position: &streams.TombstoneResp_Position{
		CommitPosition: pos, PreparePosition: pos,
	}}}, nil
}

func (s *streamsService) deleteStream(ctx context.Context, nameBytes []byte, tomb bool) (uint64, error) {
	name := string(nameBytes)
	if name == "" {
		return 0, status.Error(codes.InvalidArgument, "missing stream name")
	}
	l := s.srv.log
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.streams[name]
	if st == nil {
		st = &streamState{}
		l.streams[name] = st
	}
	if st.tomb {
		if ss := grpc.ServerTransportStreamFromContext(ctx); ss != nil {
			_ = ss.SetTrailer(metadata.Pairs("exception", "stream-deleted", "stream-name", name))
		}
		return 0, status.Errorf(codes.FailedPrecondition, "Event stream '%s' is deleted.", name)
	}
	st.deleted = true
	st.tomb = st.tomb || tomb
	return l.next, nil
}

// eventFilter is a server-side $all filter.
type eventFilter struct {
	onType   bool
	prefixes []string
	regex    *regexp.Regexp
	window   uint64 // events considered between checkpoints
}

func newEventFilter(f *streams.ReadReq_Options_FilterOptions) (*eventFilter, error) {
	if f == nil {
		return nil, nil
	}
	ef := &eventFilter{}
	var expr *streams.ReadReq_Options_FilterOptions_Expression
	switch v := f.GetFilter().(type) {
	case *streams.ReadReq_Options_FilterOptions_EventType:
		ef.onType, expr = true, v.EventType
	case *streams.ReadReq_Options_FilterOptions_StreamIdentifier:
		expr = v.StreamIdentifier
	default:
		return nil, status.Error(codes.InvalidArgument, "filter needs a stream identifier or event type expression")
	}
	if expr.GetRegex() != "" {
		re, err := regexp.Compile(expr.GetRegex())
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "invalid filter regex: %v", err)
		}
		ef.regex = re
	} else {
		ef.prefixes = expr.GetPrefix()
	}
	window := uint64(32)
	if m, ok := f.GetWindow().(*streams.ReadReq_Options_FilterOptions_Max); ok && m.Max > 0 {
		window = uint64(m.Max)
	}
	mult := uint64(f.GetCheckpointIntervalMultiplier())
	if mult == 0 {
		// KurrentDB rejects a zero multiplier.
		return nil, status.Error(codes.InvalidArgument, "checkpointIntervalMultiplier must be positive")
	}
	ef.window = window * mult
	return ef, nil
}

func (f *eventFilter) matches(r *record) bool {
	if f == nil {
		return true
	}
	subject := r.stream
	if f.onType {
		subject = r.eventType
	}
	if f.regex != nil {
		return f.regex.MatchString(subject)
	}
	for _, p := range f.prefixes {
		if strings.HasPrefix(subject, p) {
			return true
		}
	}
	return false
}
