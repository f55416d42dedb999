// Command baseline is the yardstick of the load test: a bare gin engine
// (no middleware, no auth, no storage) that decodes the same JSON body as
// casebookd's POST /v1/cases/{id}/events and answers 201, and answers a
// small JSON document for GET /v1/reports/summary. casebookd's rates are
// quoted as ratios to it, measured in the same run on the same machine.
//
// With -store FILE, the POST handler also appends the decoded event to an
// embedded SQLite event store in FILE and answers once the append is
// durable: the cost of storing an event with no rules, no authentication,
// no hash chain, no read models and no logs. It shows how much of
// casebookd's POST rate the storage engine alone allows on the machine.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/eventstore/sqlitestore"
)

type recordEventRequest struct {
	ID         *string         `json:"id"`
	Type       *string         `json:"type"`
	OccurredAt *string         `json:"occurred_at"`
	Data       json.RawMessage `json:"data"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:18081", "listen address")
	storePath := flag.String("store", "", "append each POSTed event durably to the SQLite event store in this file (empty: store nothing)")
	flag.Parse()
	if err := run(*addr, *storePath); err != nil {
		log.Fatal(err)
	}
}

func run(addr, storePath string) error {
	var store *sqlitestore.Store
	if storePath != "" {
		var err error
		if store, err = sqlitestore.Open(context.Background(), storePath, sqlitestore.Options{}); err != nil {
			return err
		}
		defer func() { _ = store.Close() }()
	}

	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.POST("/v1/cases/:id/events", func(c *gin.Context) {
		var req recordEventRequest
		dec := json.NewDecoder(c.Request.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
			return
		}
		id := uuid.New()
		version, position := uint64(1), uint64(1)
		if store != nil {
			if req.Type == nil || len(req.Data) == 0 {
				c.JSON(http.StatusUnprocessableEntity, gin.H{"error": "type and data are required"})
				return
			}
			id = uuid.Must(uuid.NewV7())
			res, err := store.Append(c.Request.Context(), "case-"+c.Param("id"), eventstore.Any,
				eventstore.EventData{ID: id, Type: *req.Type, Data: req.Data})
			if err != nil {
				c.JSON(http.StatusServiceUnavailable, gin.H{"error": err.Error()})
				return
			}
			version, position = res.Revision, uint64(res.Position)
		}
		c.JSON(http.StatusCreated, gin.H{"id": id, "case_id": c.Param("id"), "version": version, "position": position})
	})
	e.GET("/v1/reports/summary", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{
			"from": "2010-06-07T00:00:00Z", "to": "2011-06-07T00:00:00Z", "position": 1,
			"gangs_dismantled": 9, "arrests": 170,
			"seizures":   []gin.H{{"commodity": "cash", "unit": "gbp", "quantity": 4250000, "count": 12}},
			"detections": gin.H{"incidents": 100, "people": 3500},
		})
	})
	srv := &http.Server{Addr: addr, Handler: e, ReadHeaderTimeout: 5 * time.Second}
	return srv.ListenAndServe()
}
