package kurrentdbtest

import (
	"strconv"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const readBatch = 256

// Read serves stream and $all reads and subscriptions.
func (s *streamsService) Read(req *streams.ReadReq, stream streams.Streams_ReadServer) error {
	ctx := stream.Context()
	o := req.GetOptions()
	if o == nil {
		return status.Error(codes.InvalidArgument, "'options' is a required argument")
	}
	if o.GetUuidOption() == nil {
		return status.Error(codes.InvalidArgument, "'uuidOption' is a required argument")
	}
	r := &reader{
		srv:      s.srv,
		out:      stream,
		asString: o.GetUuidOption().GetString_() != nil,
	}
	var filter *eventFilter
	if f, ok := o.GetFilterOption().(*streams.ReadReq_Options_Filter); ok {
		var err error
		if filter, err = newEventFilter(f.Filter); err != nil {
			return err
		}
		if o.GetStream() != nil {
			return status.Error(codes.InvalidArgument, "filters apply to $all only")
		}
	}
	backward := o.GetReadDirection() == streams.ReadReq_Options_Backwards

	before, _ := s.srv.delays()
	if err := sleep(ctx, before); err != nil {
		return status.FromContextError(err).Err()
	}

	switch c := o.GetCountOption().(type) {
	case *streams.ReadReq_Options_Count:
		if so := o.GetStream(); so != nil {
			return r.readStream(so, backward, c.Count)
		}
		if ao := o.GetAll(); ao != nil {
			return r.readAll(ao, backward, c.Count, filter)
		}
	case *streams.ReadReq_Options_Subscription:
		if backward {
			return status.Error(codes.InvalidArgument, "subscriptions read forwards only")
		}
		if so := o.GetStream(); so != nil {
			return r.subscribeStream(so)
		}
		if ao := o.GetAll(); ao != nil {
			return r.subscribeAll(ao, filter)
		}
	}
	return status.Error(codes.InvalidArgument, "the combination of read options is invalid")
}

type reader struct {
	srv      *Server
	out      streams.Streams_ReadServer
	asString bool
}

func (r *reader) send(rec *record) error {
	return r.out.Send(&streams.ReadResp{Content: &streams.ReadResp_Event{Event: &streams.ReadResp_ReadEvent{
		Event: &streams.ReadResp_ReadEvent_RecordedEvent{
			Id:               uuidToProto(rec.id, r.asString),
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(rec.stream)},
			StreamRevision:   rec.revision,
			PreparePosition:  rec.position,
			CommitPosition:   rec.position,
			Metadata: map[string]string{
				"type":         rec.eventType,
				"content-type": rec.contentType,
				// The client exits the process when "created" is missing.
				"created": strconv.FormatInt(rec.created, 10),
			},
			CustomMetadata: rec.metadata,
			Data:           rec.data,
		},
		Position: &streams.ReadResp_ReadEvent_CommitPosition{CommitPosition: rec.position},
	}}})
}

func (r *reader) readStream(o *streams.ReadReq_Options_StreamOptions, backward bool, count uint64) error {
	name := string(o.GetStreamIdentifier().GetStreamName())
	l := r.srv.log
	l.mu.Lock()
	st := l.streams[name]
	if st != nil && st.deleted {
		l.mu.Unlock()
		return streamDeleted(r.out, name)
	}
	if st == nil || len(st.events) == 0 {
		l.mu.Unlock()
		return r.out.Send(&streams.ReadResp{Content: &streams.ReadResp_StreamNotFound_{StreamNotFound: &streams.ReadResp_StreamNotFound{
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(name)},
		}}})
	}
	last := uint64(len(st.events) - 1)
	var picked []*record
	if backward {
		from := last
		switch v := o.GetRevisionOption().(type) {
		case *streams.ReadReq_Options_StreamOptions_Start:
			from = 0
		case *streams.ReadReq_Options_StreamOptions_Revision:
			from = min(v.Revision, last)
		}
		for rev := int64(from); rev >= 0 && uint64(len(picked)) < count; rev-- {
			picked = append(picked, l.records[st.events[rev]])
		}
	} else {
		from := uint64(0)
		switch v := o.GetRevisionOption().(type) {
		case *streams.ReadReq_Options_StreamOptions_End:
			from = last + 1
		case *streams.ReadReq_Options_StreamOptions_Revision:
			from = v.Revision
		}
		for rev := from; rev <= last && uint64(len(picked)) < count; rev++ {
			picked = append(picked, l.records[st.events[rev]])
		}
	}
	l.mu.Unlock()
	for _, rec := range picked {
		if err := r.send(rec); err != nil {
			return err
		}
	}
	return nil
}

var errInvalidPosition = status.Error(codes.InvalidArgument, "Trying to read from an invalid position.")

// startIndex turns a $all read's start option into an index of the log's
// records: 0 for the start, the end for the end, and atPosition's answer
// for a position (which must be an event's, as KurrentDB insists).
func (l *memLog) startIndex(o *streams.ReadReq_Options_AllOptions, atPosition func(uint64) int) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch v := o.GetAllOption().(type) {
	case *streams.ReadReq_Options_AllOptions_End:
		return len(l.records), nil
	case *streams.ReadReq_Options_AllOptions_Position:
		if !l.validPositionLocked(v.Position.GetCommitPosition()) {
			return 0, errInvalidPosition
		}
		return atPosition(v.Position.GetCommitPosition()), nil
	}
	return 0, nil
}

func (r *reader) readAll(o *streams.ReadReq_Options_AllOptions, backward bool, count uint64, filter *eventFilter) error {
	l := r.srv.log
	// Forward reads include the event at the position, backward reads
	// start before it, as on KurrentDB.
	idx, err := l.startIndex(o, l.indexAtOrAfterLocked) // forward: next index to read; backward: one past it
	if err != nil {
		return err
	}

	var sent uint64
	for sent < count {
		l.mu.Lock()
		var batch []*record
		if backward {
			lo := max(idx-readBatch, 0)
			for i := idx - 1; i >= lo; i-- {
				batch = append(batch, l.records[i])
			}
			idx = lo
		} else {
			hi := min(idx+readBatch, len(l.records))
			batch = append(batch, l.records[idx:hi]...)
			idx = hi
		}
		l.mu.Unlock()
		if len(batch) == 0 {
			return nil
		}
		for _, rec := range batch {
			if !filter.matches(rec) {
				continue
			}
			if err := r.send(rec); err != nil {
				return err
			}
			if sent++; sent >= count {
				return nil
			}
		}
	}
	return nil
}

func (r *reader) confirm() error {
	return r.out.Send(&streams.ReadResp{Content: &streams.ReadResp_Confirmation{Confirmation: &streams.ReadResp_SubscriptionConfirmation{
		SubscriptionId: newUUID().String(),
	}}})
}

func (r *reader) caughtUp() error {
	return r.out.Send(&streams.ReadResp{Content: &streams.ReadResp_CaughtUp_{CaughtUp: &streams.ReadResp_CaughtUp{}}})
}

func (r *reader) checkpoint(pos uint64) error {
	return r.out.Send(&streams.ReadResp{Content: &streams.ReadResp_Checkpoint_{Checkpoint: &streams.ReadResp_Checkpoint{
		CommitPosition: pos, PreparePosition: pos,
	}}})
}

var errDropped = status.Error(codes.Unavailable, "kurrentdbtest: subscription dropped by the node")

// subscribeAll is a catch-up subscription to $all: events after the given
// position, a checkpoint (filtered) and caught-up when it reaches the end,
// then live events as they are written.
func (r *reader) subscribeAll(o *streams.ReadReq_Options_AllOptions, filter *eventFilter) error {
	ctx := r.out.Context()
	drop := r.srv.dropSignal()
	l := r.srv.log
	idx, err := l.startIndex(o, l.indexAfterLocked)
	if err != nil {
		return err
	}
	if err := r.confirm(); err != nil {
		return err
	}

	var considered, lastConsidered uint64
	live := false
	for {
		select {
		case <-drop:
			return errDropped
		default:
		}
		l.mu.Lock()
		hi := min(idx+readBatch, len(l.records))
		batch := append([]*record(nil), l.records[idx:hi]...)
		changed := l.changed
		l.mu.Unlock()
		idx = hi

		if len(batch) == 0 {
			if !live {
				if filter != nil && lastConsidered > 0 {
					if err := r.checkpoint(lastConsidered); err != nil {
						return err
					}
				}
				if err := r.caughtUp(); err != nil {
					return err
				}
				live = true
			}
			select {
			case <-changed:
			case <-drop:
				return errDropped
			case <-ctx.Done():
				return status.FromContextError(ctx.Err()).Err()
			}
			continue
		}
		for _, rec := range batch {
			considered++
			lastConsidered = rec.position
			if filter.matches(rec) {
				if err := r.send(rec); err != nil {
					return err
				}
			}
			if filter != nil && considered%filter.window == 0 {
				if err := r.checkpoint(rec.position); err != nil {
					return err
				}
			}
		}
	}
}

// subscribeStream is a catch-up subscription to one stream.
func (r *reader) subscribeStream(o *streams.ReadReq_Options_StreamOptions) error {
	ctx := r.out.Context()
	drop := r.srv.dropSignal()
	name := string(o.GetStreamIdentifier().GetStreamName())
	l := r.srv.log
	l.mu.Lock()
	next := uint64(0)
	st := l.streams[name]
	switch v := o.GetRevisionOption().(type) {
	case *streams.ReadReq_Options_StreamOptions_End:
		if st != nil {
			next = uint64(len(st.events))
		}
	case *streams.ReadReq_Options_StreamOptions_Revision:
		next = v.Revision + 1
	}
	l.mu.Unlock()
	if err := r.confirm(); err != nil {
		return err
	}
	live := false
	for {
		l.mu.Lock()
		st := l.streams[name]
		var batch []*record
		if st != nil && st.deleted {
			l.mu.Unlock()
			return streamDeleted(r.out, name)
		}
		if st != nil {
			for rev := next; rev < uint64(len(st.events)) && len(batch) < readBatch; rev++ {
				batch = append(batch, l.records[st.events[rev]])
			}
		}
		changed := l.changed
		l.mu.Unlock()
		if len(batch) == 0 {
			if !live {
				if err := r.caughtUp(); err != nil {
					return err
				}
				live = true
			}
			select {
			case <-changed:
			case <-drop:
				return errDropped
			case <-ctx.Done():
				return status.FromContextError(ctx.Err()).Err()
			}
			continue
		}
		for _, rec := range batch {
			if err := r.send(rec); err != nil {
				return err
			}
			next = rec.revision + 1
		}
	}
}
