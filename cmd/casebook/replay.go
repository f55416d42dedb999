package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
	"github.com/google/uuid"
)

type replayReport struct {
	CaseID   uuid.UUID           `json:"case_id"`
	Version  *uint64             `json:"version,omitempty"` // the point asked for
	AsOf     *time.Time          `json:"as_of,omitempty"`
	Chain    domain.VerifyResult `json:"chain"` // of the whole stream
	Events   int                 `json:"events"`
	Later    int                 `json:"later_events"` // events after the chosen point
	Timeline []domain.Entry      `json:"timeline"`
	State    domain.Case         `json:"state"`
}

func runReplay(a *app, args []string) error {
	fs := a.flagSet("replay")
	caseFlag := fs.String("case", "", "the case's id")
	versionFlag := fs.String("version", "", "show the case as it stood after this version")
	asOfFlag := fs.String("as-of", "", "show the case as it was known at this recorded time (date or RFC 3339)")
	if _, err := a.parse(fs, args, "--case ID [--version N | --as-of TIME]", 0); err != nil {
		return err
	}
	caseID, err := uuid.Parse(*caseFlag)
	if *caseFlag == "" || err != nil {
		return usagef("--case ID (a case's UUID) is required")
	}
	rep := replayReport{CaseID: caseID, Timeline: []domain.Entry{}}
	if *versionFlag != "" && *asOfFlag != "" {
		return usagef("give --version or --as-of, not both")
	}
	if *versionFlag != "" {
		v, err := strconv.ParseUint(*versionFlag, 10, 64)
		if err != nil {
			return usagef("--version %q is not a version number", *versionFlag)
		}
		rep.Version = &v
	}
	if *asOfFlag != "" {
		t, err := parseTime(*asOfFlag)
		if err != nil {
			return usagef("--as-of: %v", err)
		}
		rep.AsOf = &t
	}

	ref, err := a.storeRef()
	if err != nil {
		return usagef("%v", err)
	}
	st, err := a.openStore(ref, true)
	if err != nil {
		return err
	}
	defer st.Close()

	var entries []domain.Entry
	verifier := domain.NewChainVerifier(domain.StreamName(caseID))
	for ev, err := range st.ReadStream(a.ctx, domain.StreamName(caseID), eventstore.ReadStreamOptions{}) {
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			return fmt.Errorf("case %s: no such case in %s", caseID, ref)
		}
		if err != nil {
			return fmt.Errorf("read case %s: %w", caseID, err)
		}
		se := toStored(ev)
		verifier.Add(se)
		e, err := domain.DecodeStored(se)
		if err != nil {
			return fmt.Errorf("case %s: %w", caseID, err)
		}
		entries = append(entries, e)
	}
	rep.Chain = verifier.Result()
	rep.Events = len(entries)

	var state domain.Case
	switch {
	case rep.Version != nil:
		state, err = domain.StateAtVersion(entries, *rep.Version)
	case rep.AsOf != nil:
		state, err = domain.StateAsOf(entries, *rep.AsOf)
	default:
		state, err = domain.Replay(entries)
	}
	if err != nil {
		return &problemsError{fmt.Sprintf("case %s: %v", caseID, err)}
	}
	// Personal fields are shown opened (null once erased) to the operator,
	// who holds the store's keys.
	keys, closeKeys, err := a.readVault(ref, st)
	if err != nil {
		return err
	}
	defer closeKeys()
	reveal := core.NewRevealer(keys)
	current, err := domain.Replay(entries)
	if err != nil {
		return &problemsError{fmt.Sprintf("case %s: %v", caseID, err)}
	}
	if err := reveal.Case(a.ctx, &current, &state); err != nil {
		return err
	}
	rep.State = state
	for _, e := range entries {
		if e.Version > state.Version {
			rep.Later++
			continue
		}
		if e, err = reveal.Entry(a.ctx, &current, e); err != nil {
			return err
		}
		rep.Timeline = append(rep.Timeline, e)
	}

	if a.json {
		if err := a.printJSON(rep); err != nil {
			return err
		}
	} else {
		printReplay(a.stdio.Out, rep)
	}
	if !rep.Chain.Valid {
		return &problemsError{fmt.Sprintf("case %s: hash chain broken at version %d: %s", caseID, *rep.Chain.FirstInvalidVersion, rep.Chain.Reason)}
	}
	return nil
}

const timeLayout = "2006-01-02 15:04"

func printReplay(w io.Writer, rep replayReport) {
	c := rep.State
	fmt.Fprintf(w, "Case %s  %s\n", c.ID, c.Reference)
	fmt.Fprintf(w, "  %s\n", c.Title)
	fmt.Fprintf(w, "  lead %s; agencies %s; %s; crimes %s\n", c.LeadAgency, strings.Join(c.Agencies, ", "), c.Location, strings.Join(c.CrimeTypes, ", "))
	if rep.Chain.Valid {
		fmt.Fprintf(w, "  hash chain: verified, %d events, head %s\n", rep.Chain.Checked, short(rep.Chain.HeadHash))
	} else {
		fmt.Fprintf(w, "  hash chain: BROKEN at version %d: %s\n", *rep.Chain.FirstInvalidVersion, rep.Chain.Reason)
	}
	fmt.Fprintln(w)

	fmt.Fprintln(w, "Timeline (times UTC; \"occurred\" is when it happened, \"logged\" when it was recorded):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  ver\toccurred\tlogged\tby\tevent")
	names := map[uuid.UUID]string{}
	byID := map[uuid.UUID]domain.Entry{}
	for _, e := range rep.Timeline {
		byID[e.ID] = e
		switch ev := e.Event.(type) {
		case domain.SuspectIdentified:
			if ev.Name != "" { // not erased, nor unreadable
				names[ev.PersonID] = ev.Name
			}
		case domain.OrganisedCrimeGroupLinked:
			names[ev.GroupID] = ev.Name
		}
		by := e.Metadata.Actor.Agency + " " + e.Metadata.Actor.Subject
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s: %s\n", e.Version,
			e.Metadata.OccurredAt.UTC().Format(timeLayout), e.Metadata.RecordedAt.UTC().Format(timeLayout),
			by, e.Type, describe(e, names, byID))
	}
	tw.Flush()
	if rep.Later > 0 {
		fmt.Fprintf(w, "  (%d later events not shown)\n", rep.Later)
	}
	fmt.Fprintln(w)

	point := "now"
	switch {
	case rep.Version != nil:
		point = fmt.Sprintf("at version %d", *rep.Version)
	case rep.AsOf != nil:
		point = "as known at " + rep.AsOf.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(w, "State %s (version %d, last logged %s):\n", point, c.Version, c.UpdatedAt.UTC().Format(time.RFC3339))
	status := c.Status
	if c.Status == domain.StatusClosed && c.Outcome != "" {
		status += " (" + c.Outcome + ")"
	}
	fmt.Fprintf(w, "  status:        %s\n", status)
	n := c.Counts
	fmt.Fprintf(w, "  suspects:      %d identified, %d charged (%d charges)\n", n.Suspects, n.SuspectsCharged, n.Charges)
	fmt.Fprintf(w, "  arrests:       %d\n", n.Arrests)
	fmt.Fprintf(w, "  intelligence:  %d reports\n", n.IntelligenceReports)
	if n.Detections > 0 {
		fmt.Fprintf(w, "  detections:    %d incidents, %d people\n", n.Detections, n.PeopleDetected)
	}
	for _, s := range c.Seizures {
		fmt.Fprintf(w, "  seized:        %s %s of %s (%d seizures)\n", s.Quantity, s.Unit, s.Commodity, s.Count)
	}
	for _, g := range c.Groups {
		state := "active"
		if g.Dismantled && g.DismantledAt != nil {
			state = "dismantled " + g.DismantledAt.UTC().Format(time.DateOnly)
			if g.DismantledByAgency != "" {
				state += " by " + g.DismantledByAgency
			}
		}
		fmt.Fprintf(w, "  group:         %s (%s)\n", g.Name, state)
	}
	if n.Retractions > 0 {
		fmt.Fprintf(w, "  retractions:   %d\n", n.Retractions)
	}
}

// describe is a one-line account of an event for the timeline.
func describe(e domain.Entry, names map[uuid.UUID]string, byID map[uuid.UUID]domain.Entry) string {
	person := func(id uuid.UUID) string {
		if n, ok := names[id]; ok {
			return n
		}
		return "person " + short(id.String())
	}
	switch ev := e.Event.(type) {
	case domain.CaseOpened:
		return fmt.Sprintf("%s %q, lead %s, at %s", ev.Reference, ev.Title, ev.LeadAgency, ev.Location)
	case domain.AgencyJoined:
		return ev.Agency + " joined the case"
	case domain.OrganisedCrimeGroupLinked:
		return "linked group " + ev.Name
	case domain.SuspectIdentified:
		if e.ErasedAt != nil {
			return "person " + short(ev.PersonID.String()) + " (personal data erased " + e.ErasedAt.UTC().Format(time.DateOnly) + ")"
		}
		if e.Unreadable != nil {
			return "person " + short(ev.PersonID.String()) + " (personal data unreadable: " + e.Unreadable.Code + ")"
		}
		s := ev.Name
		if ev.Nationality != "" {
			s += " (" + ev.Nationality + ")"
		}
		return s
	case domain.IntelligenceLogged:
		if e.Unreadable != nil {
			return "[" + ev.Grading + "] (summary unreadable: " + e.Unreadable.Code + ")"
		}
		return "[" + ev.Grading + "] " + ev.Summary
	case domain.PersonErased:
		return person(ev.PersonID) + "'s personal data erased: " + ev.Reason
	case domain.ArrestMade:
		s := person(ev.PersonID) + " at " + ev.Location + " for " + ev.Offence
		if ev.Agency != "" {
			s += " by " + ev.Agency
		}
		return s
	case domain.SuspectCharged:
		return person(ev.PersonID) + ": " + strings.Join(ev.Charges, "; ")
	case domain.SeizureRecorded:
		s := fmt.Sprintf("%s %s of %s at %s", ev.Quantity, ev.Unit, ev.Commodity, ev.Location)
		if ev.ExhibitRef != "" {
			s += " (exhibit " + ev.ExhibitRef + ")"
		}
		return s
	case domain.StowawaysDetected:
		s := fmt.Sprintf("%d people at %s by %s", ev.People, ev.Location, ev.Method)
		if ev.Vehicle != "" {
			s += " in " + ev.Vehicle
		}
		return s
	case domain.GangDismantled:
		if n, ok := names[ev.GroupID]; ok {
			return n + " dismantled"
		}
		return "group " + ev.GroupID.String() + " dismantled"
	case domain.CaseClosed:
		return ev.Outcome
	case domain.CaseReopened:
		return ev.Reason
	case domain.EntryRetracted:
		what := "event " + ev.EventID.String()
		if r, ok := byID[ev.EventID]; ok {
			what = fmt.Sprintf("v%d %s", r.Version, r.Type)
		}
		return "retracts " + what + ": " + ev.Reason
	}
	return string(e.Data)
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
