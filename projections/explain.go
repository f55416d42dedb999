package projections

import (
	"cmp"
	"encoding/base64"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Explained answers are paged: explain=true lists at most a page of the
// events behind the figures (Limit, default 100, at most 1000), in
// (occurred_at, position) order, with a cursor to the next page. The
// figures themselves are always exact: a page bounds the ids, not what is
// counted.
const (
	defaultExplainLimit = 100
	maxExplainLimit     = 1000
)

// pageCursor is where a page of explain ended: the (occurred_at, position)
// of its last event. The zero value is the start.
type pageCursor struct {
	occ, pos int64
	set      bool
}

// cursorPrefix starts every explain cursor (before base64): a cursor of
// another list is refused rather than misread.
const cursorPrefix = "ev:"

func (c pageCursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix +
		strconv.FormatInt(c.occ, 10) + ":" + strconv.FormatInt(c.pos, 10)))
}

// parsePageCursor reads a cursor a page gave ("" is the start).
func parsePageCursor(s string) (pageCursor, error) {
	if s == "" {
		return pageCursor{}, nil
	}
	bad := queryError("cursor", "is not a cursor an explained report gave")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return pageCursor{}, bad
	}
	rest, ok := strings.CutPrefix(string(b), cursorPrefix)
	if !ok {
		return pageCursor{}, bad
	}
	occ, pos, ok := strings.Cut(rest, ":")
	if !ok {
		return pageCursor{}, bad
	}
	c := pageCursor{set: true}
	if c.occ, err = strconv.ParseInt(occ, 10, 64); err != nil {
		return pageCursor{}, bad
	}
	if c.pos, err = strconv.ParseInt(pos, 10, 64); err != nil {
		return pageCursor{}, bad
	}
	return c, nil
}

// bounds returns, for a period starting at from (Unix nanoseconds), where
// a page after c starts reading (occurred_at ≥ lo) and the (occurred_at,
// position) its events must come after.
func (c pageCursor) bounds(from int64) (lo, occ, pos int64) {
	if !c.set {
		return from, math.MinInt64, math.MinInt64
	}
	return max(from, c.occ), c.occ, c.pos
}

// before orders explained events as pages list them.
func (a explainItem) before(b explainItem) int {
	return cmp.Or(cmp.Compare(a.occ, b.occ), cmp.Compare(a.pos, b.pos))
}

// cutPage sorts items and keeps the first limit; next is the cursor after
// the last kept when more remain ("" otherwise). Callers read limit+1
// items from each source so that "more remain" is known.
func cutPage(items []explainItem, limit int) (page []explainItem, next string) {
	slices.SortFunc(items, explainItem.before)
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	last := items[limit-1]
	return items, pageCursor{occ: last.occ, pos: last.pos, set: true}.String()
}

// idsByGroup sorts a page's event ids by group (key and sub-keys joined by
// \x00) and collects those that count in the total.
func idsByGroup(page []explainItem) (total []string, groups map[string][]string) {
	groups = map[string][]string{}
	for _, it := range page {
		if it.inTotal {
			total = append(total, it.id)
		}
		k := groupID(it.key, it.sub)
		groups[k] = append(groups[k], it.id)
	}
	return total, groups
}

// groupID identifies a group by its key and sub-keys.
func groupID(key string, sub []string) string {
	if len(sub) == 0 {
		return key
	}
	return key + "\x00" + strings.Join(sub, "\x00")
}
