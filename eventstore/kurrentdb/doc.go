// Package kurrentdb implements eventstore.Store on KurrentDB (EventStoreDB).
package kurrentdb

import _ "github.com/EventStore/EventStore-Client-Go/v4/esdb"
