// Command baseline is the yardstick of the load test: a bare gin engine
// (no middleware, no auth, no storage) that decodes the same JSON body as
// casebookd's POST /v1/cases/{id}/events and answers 201, and answers a
// small JSON document for GET /v1/reports/summary. casebookd's rates are
// quoted as ratios to it, measured in the same run on the same machine.
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

type recordEventRequest struct {
	ID         *string         `json:"id"`
	Type       *string         `json:"type"`
	OccurredAt *string         `json:"occurred_at"`
	Data       json.RawMessage `json:"data"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:18081", "listen address")
	flag.Parse()
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
		c.JSON(http.StatusCreated, gin.H{"id": uuid.New(), "case_id": c.Param("id"), "version": 1, "position": 1})
	})
	e.GET("/v1/reports/summary", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{
			"from": "2010-06-07T00:00:00Z", "to": "2011-06-07T00:00:00Z", "position": 1,
			"gangs_dismantled": 9, "arrests": 170,
			"seizures":   []gin.H{{"commodity": "cash", "unit": "gbp", "quantity": 4250000, "count": 12}},
			"detections": gin.H{"incidents": 100, "people": 3500},
		})
	})
	srv := &http.Server{Addr: *addr, Handler: e, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
