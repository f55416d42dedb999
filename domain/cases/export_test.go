package cases

import "github.com/google/uuid"

// QueuedForTest is how many callers wait for the case's turn: tests use it
// to line commands up behind a leader in a known order.
func QueuedForTest(s *Service, id uuid.UUID) int {
	sh := s.queues.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if cq := sh.m[id]; cq != nil {
		return len(cq.waiting)
	}
	return 0
}
